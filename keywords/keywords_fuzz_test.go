package keywords

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/unicode/norm"
)

func FuzzMatch(f *testing.F) {
	for _, text := range streamTexts {
		f.Add(text)
	}

	f.Fuzz(func(t *testing.T, text string) {
		k := Normalize(text)

		require.Equal(t, k, Normalize(k), "normalize not idempotent for %+q", text)
		require.True(t, utf8.ValidString(k), "normalize gave invalid UTF-8 for %+q", text)
		if k != "" {
			first, _ := utf8.DecodeRuneInString(k)
			last, _ := utf8.DecodeLastRuneInString(k)
			require.False(t, isTrimmed(first), "normalize left %+q at the start for %+q", first, text)
			require.False(t, isTrimmed(last), "normalize left %+q at the end for %+q", last, text)
		}
		require.False(t, strings.Contains(k, "  "), "normalize left a run of spaces for %+q", text)
		require.Equal(t, -1, strings.IndexFunc(k, func(r rune) bool { return unicode.IsSpace(r) && r != ' ' }), "normalize left whitespace other than a space for %+q", text)

		assertStreamAgrees(t, text, Default.longest)
		assertStreamAgrees(t, text, MaxKeywordBytes)
		assertStreamNarrows(t, text, narrowKeys)
		assertStreamNarrows(t, text, Default.keys)

		// what phones and people put around a message, or format characters in it, don't change it
		valid := strings.ToValidUTF8(text, "\uFFFD")
		for _, around := range whatsApp {
			wrapped := around[0] + valid + around[1]
			require.Equal(t, k, Normalize(wrapped), "normalize mismatch for %+q wrapped as %+q", text, wrapped)
			assertStreamAgrees(t, wrapped, Default.longest)
		}
		for _, format := range formats {
			invisible := insertFormat(valid, format)
			require.Equal(t, k, Normalize(invisible), "normalize mismatch for %+q as %+q", text, invisible)
			assertStreamAgrees(t, invisible, Default.longest)
			assertStreamAgrees(t, invisible, MaxKeywordBytes)
		}

		// and the two agree on emoji sequences made of any rune
		for _, part := range emojiParts {
			assertStreamAgrees(t, appendAfterEach(valid, part), MaxKeywordBytes)
		}

		// matching agrees with looking up the normalized text
		m := Default.Match(text, "spa")
		if e := Default.entries[k]; e != nil {
			assert.Equal(t, e.intent, m.Intent, "intent mismatch for %+q", text)
			assert.Equal(t, norm.NFC.String(k), m.Keyword, "keyword mismatch for %+q", text)
		} else {
			assert.Equal(t, Match{Intent: None}, m, "unexpected match for %+q", text)
		}

		// and the text is a keyword of a catalog that has it as its longest keyword
		if k != "" && len(k) <= MaxKeywordBytes {
			catalog, err := New(Set{OptIn: Words{"eng": {text}}}, []i18n.Language{"eng"}, "eng")
			require.NoError(t, err)
			assert.Equal(t, Match{Intent: OptIn, Keyword: norm.NFC.String(k), Language: "eng"}, catalog.Match(text, ""), "match mismatch for %+q", text)
		}
	})
}

// whatsApp are the prefixes and suffixes of a message that leave it as it is: emoji, formatting markers and
// invisible characters, ending and starting with something that can't join the message.
var whatsApp = [][2]string{
	{"👍🏽 ", " 🇧🇷"},
	{"\u200b\u202e*", "*\u202c\u200b"},
	{"👨\u200d👩\u200d👧", "#\ufe0f\u20e3"},
	{"~```", "```~ 🙏🏽"},
	{"*\ufe0f\u20e3\u00a0", "1\ufe0f\u20e3"},
}

// formats are format characters, of which WhatsApp messages have plenty.
var formats = []rune{'\u200b', '\u200d', '\u2060', '\u00ad', '\ufeff', '\u200e', '\u202e', '\u2066', '\U000e0041'}

// insertFormat inserts format before every rune of valid UTF-8 text that starts a segment, so that it neither
// separates a mark from its letter nor keeps marks from being reordered.
func insertFormat(text string, format rune) string {
	var b strings.Builder
	for _, r := range text {
		if norm.NFKD.PropertiesString(string(r)).BoundaryBefore() {
			b.WriteRune(format)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// emojiParts are what emoji sequences are made of besides pictographs.
var emojiParts = []string{"\u20e3", "\ufe0f\u20e3", "\ufe0f", "\U0001f3fd", "\u200d", "\u200b\u0301"}

// appendAfterEach appends part after every rune of valid UTF-8 text.
func appendAfterEach(text, part string) string {
	var b strings.Builder
	for _, r := range text {
		b.WriteRune(r)
		b.WriteString(part)
	}
	return b.String()
}

// isTrimmed reports whether r is removed from the ends of a normalized string when it stands alone.
func isTrimmed(r rune) bool {
	_, c := fold(r)
	return c == whitespace || c == decoration
}
