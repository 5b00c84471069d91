package keywords_test

import (
	"strings"
	"testing"

	"github.com/optout-dev/optout/keywords"
	"github.com/stretchr/testify/assert"
)

func TestNormalize(t *testing.T) {
	tcs := []struct {
		text       string
		normalized string
	}{
		{"", ""},
		{"stop", "stop"},
		{"  PARAR!!! ", "parar"},
		{"¡Salir!", "salir"},
		{"¿Detener?", "detener"},
		{"#VOLTAR", "#voltar"},
		{"#voltar!", "#voltar"},
		{"##start##", "##start##"},
		{"stop.", "stop"},
		{"Parar.", "parar"},
		{"«parar»", "parar"},
		{`"stop"`, "stop"},
		{"“Parar”", "parar"},
		{"'sair'", "sair"},
		{"(stop)", "stop"},
		{"parar…", "parar"},
		{"...stop...", "stop"},
		{"ＳＴＯＰ", "stop"},             // full width
		{"ＳＴＯＰ！", "stop"},            // full width exclamation mark
		{"\u00a0stop\u00a0", "stop"}, // no-break space
		{"\tstop\r\n", "stop"},
		{"ﬁm", "fim"},    // ligature
		{"ⓢⓣⓞⓟ", "stop"}, // circled
		{"𝐬𝐭𝐨𝐩", "stop"}, // mathematical bold
		{"⑴", "1"},       // compatibility decomposes to (1), whose parentheses are trimmed
		{"quero  parar\tde\n\nreceber", "quero parar de receber"},
		{"stop\u3000now", "stop now"}, // ideographic space
		{"stop-now", "stop-now"},
		{"stop - now", "stop - now"},
		{"stop,  ,now", "stop, ,now"},
		{"stop 👍", "stop"}, // emoji are trimmed like punctuation
		{"👍🏽 stop 👍🏽", "stop"},
		{"👍", ""},
		{"stop 👍 now", "stop 👍 now"},   // and kept inside like it
		{"stop👨‍👩‍👧now", "stop👨👩👧now"}, // without their joiners
		{"🇧🇷 stop 🇵🇹", "stop"},
		{"❤️stop❤", "stop"},
		{"1️⃣ stop", "stop"}, // keycaps, with or without their variation selector
		{"stop 1\u20e3", "stop"},
		{"#️⃣#voltar", "#voltar"},
		{"#️⃣voltar", "voltar"},
		{"a1️⃣b", "a1\ufe0f\u20e3b"},
		{"stop 1", "stop 1"},
		{"stop 1\ufe0f", "stop 1"},
		{"1\ufe0e\u20e3", "1"},
		{"STOP™", "stop"}, // pictographs are not decomposed
		{"Ⓜ️", ""},
		{"x™y", "x™y"},
		{"x\u21aey", "x\u2194\u0338y"}, // but what decomposes to one is
		{"*stop*", "stop"},             // WhatsApp's formatting markers
		{"_~stop~_", "stop"},
		{"```stop```", "stop"},
		{"stop~now", "stop~now"},
		{"pa\u200brar", "parar"}, // format characters are dropped
		{"\ufeff\u200e#voltar\u00ad\u2069", "#voltar"},
		{"\U000e0067\U000e007f", ""},                   // tags are format characters
		{"s\u200b\u0301top", "s\u200b\u0301top"},       // but kept before a combining mark
		{"a\u0301\u200b\u0323", "a\u0301\u200b\u0323"}, // which they keep apart from the marks before
		{"\u200b\u200c\u0301", "\u200c\u0301"},
		{"\u200b\u0345", "\u03b9"},                // as folded, this one is not a mark
		{"\u202fstop\u2007now\u205f", "stop now"}, // Unicode spaces
		{"!!!", ""},
		{" \t ", ""},
		{"Não", "na\u0303o"},                     // decomposed
		{"na\u0303o", "na\u0303o"},               // already decomposed
		{"NÃO!", "na\u0303o"},                    // accents fold with their letter
		{"ΣΟΦΟΣ", "σοφοσ"},                       // final sigma folds like sigma
		{"σοφος", "σοφοσ"},                       // final sigma folds like sigma
		{"STRAẞE", "straße"},                     // simple folding: ß stays ß
		{"T\u0308", "t\u0308"},                   // would compose after folding under NFKC
		{"\u1e97", "t\u0308"},                    // ... to this
		{"exıt", "exit"},                         // dotless i folds through I
		{"İ", "i\u0307"},                         // dotted I keeps its dot
		{"\U000100a8\u0301", "\U000100a8\u0301"}, // x/text's NFKC wrongly composes this to U+0385
		{"\xff", "\ufffd"},                       // invalid UTF-8
		{"s\xfftop", "s\ufffdtop"},               // invalid UTF-8
		{"stop\xe2\x82", "stop\ufffd"},           // truncated UTF-8
		{"\xff\xfe\xfd", "\ufffd"},               // a run of invalid UTF-8 is one U+FFFD
		{"\xf5\u04ed", "\ufffd\u044d\u0308"},     // not taken for a truncated rune
	}

	for _, tc := range tcs {
		assert.Equal(t, tc.normalized, keywords.Normalize(tc.text), "normalize mismatch for %q", tc.text)
	}

	// trailing punctuation can be as long as it likes
	assert.Equal(t, "stop", keywords.Normalize("stop"+strings.Repeat("!", 200)))
}
