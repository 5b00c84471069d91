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
		{"stop 👍", "stop 👍"}, // emoji are symbols, not punctuation
		{"👍", "👍"},
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
