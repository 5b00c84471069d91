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
