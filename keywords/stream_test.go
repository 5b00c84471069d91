package keywords

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamTexts are texts that stress the streaming normalizer: limits, span windows, separators, NFKD, invalid
// UTF-8, emoji and format characters.
var streamTexts = []string{
	"",
	" ",
	"!",
	"#",
	"stop",
	"  PARAR!!! ",
	"¡Salir!",
	"#VOLTAR",
	"Parar.",
	"ＳＴＯＰ",
	"exıt",
	"quero  parar de receber",
	"stop" + strings.Repeat("!", 200),
	"stop" + strings.Repeat(" ", 200),
	"stop" + strings.Repeat(" !", 100),
	"ＳＴＯＰ" + strings.Repeat("！", 100),
	strings.Repeat("¡", 100) + "stop",
	strings.Repeat("a", 64),
	strings.Repeat("a", 65),
	strings.Repeat("a", 61) + "é", // 64 bytes once decomposed
	strings.Repeat("a", 62) + "é", // 65 bytes once decomposed
	strings.Repeat("a", 63) + "€",
	"a" + strings.Repeat("!", 70),
	"a" + strings.Repeat("!", 70) + "b",
	"a" + strings.Repeat(" ", 70) + "b",
	"a" + strings.Repeat(" !", 40) + "b",
	"a" + strings.Repeat("…", 30) + "b",
	strings.Repeat("x", pieceSize-1) + "\u0301",
	strings.Repeat(" ", pieceSize-1) + "é",
	strings.Repeat(" ", pieceSize-1) + "€",
	strings.Repeat(" ", pieceSize-2) + "€",
	strings.Repeat(" ", pieceSize-1) + "\xe2\x82" + "stop",
	strings.Repeat(" ", 100) + "ＳＴＯＰ",
	strings.Repeat("!", 100) + "Não",
	"É" + strings.Repeat("a", 2000),
	"Não quero mais receber mensagens, obrigado! 🙏",
	"a" + strings.Repeat("\u0301", 40),
	"stop" + strings.Repeat("\u0301", 40),
	"한국어",
	"\u0345",
	"α\u0345\u0301",
	"T\u0308",
	"\U000100a8\u0301",
	"\xff",
	"s\xfftop",
	"stop\xe2\x82",
	"\xe2\x82\xac",
	"\xed\xa0\x80", // an encoded surrogate
	"\xf5\u04ed",   // an invalid lead byte that x/text takes for a truncated rune at the end
	"\xf0à",
	strings.Repeat(" ", pieceSize-1) + "\xf5\u04ed",
	"\ufffd\xff\xfe\ufffd",
	"stop\xff\xff\xffstop",
	"\xff\u0301\u0301",
	strings.Repeat("x", pieceSize-1) + "\xff\u0301",

	// emoji, which are trimmed but kept inside, and keycaps, which make an emoji of a digit or '#'
	"*#voltar* 🙏",
	"👍🏽 SAIR 👍🏽",
	"🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007fstop",
	"parar 🙏 agora",
	strings.Repeat("🙏🏽", 40) + "stop",
	"stop" + strings.Repeat("👨\u200d👩\u200d👧", 20),
	"a" + strings.Repeat("👍", 20) + "b",
	"stop1\ufe0f\u20e3",
	"stop1\u20e3",
	"stop1\ufe0f",
	"stop1",
	"1\ufe0f\u20e3stop",
	"#\ufe0f\u20e3#voltar",
	"#\ufe0f\ufe0f\u20e3",
	"1\u200b\u20e3",
	"1\u200b\u0301",
	"a1\ufe0f\u20e3b",
	strings.Repeat("x", 63) + "1\u20e3",
	strings.Repeat("x", 64) + "1\ufe0f\u20e3",
	strings.Repeat("x", 63) + "1\ufe0f",
	strings.Repeat("x", 64) + "#",
	strings.Repeat("1\u20e3", 40) + "stop",
	"STOP™",
	"x™y",
	"Ⓜ\ufe0f",
	"é™é",
	"™\u0301",
	strings.Repeat(" ", pieceSize-1) + "™\u0301",
	strings.Repeat("é", pieceSize) + "™",
	"\u21ae",

	// format characters, which are dropped unless a combining mark follows
	"pa\u200brar",
	"\ufeff\u200e#voltar\u00ad\u2069",
	"a" + strings.Repeat("\u200b", 100) + "b",
	"s\u200b\u0301top",
	"a\u0301\u200b\u0323",
	"\u200b\u200c\u0301",
	"\u200b\u0345",
	"stop\u200b",
	strings.Repeat("\u0301", 30) + "\u200b\u0301",
	strings.Repeat("\u0301", 31),
	"x" + strings.Repeat("\u200b", pieceSize) + "\u0301",
	strings.Repeat("x", pieceSize-1) + "\u200b\u0301",
	strings.Repeat("a", 62) + "\u200b\u0301",
	strings.Repeat("a", 61) + "\u200b\u0301",
	"\U000e0067\U000e007f",

	// WhatsApp's formatting markers and Unicode spaces
	"```parar```",
	"~*_stop_*~",
	"stop~now",
	"\u202fstop\u2007now\u205f",
}

// assertStreamAgrees asserts that streaming text with a limit gives the same as Normalize, or gives up if and
// only if that is longer than the limit.
func assertStreamAgrees(t *testing.T, text string, limit int) {
	t.Helper()

	s := stream{limit: limit}
	expected := Normalize(text)

	if len(expected) > limit {
		assert.False(t, s.normalize(text), "expected stream to give up on %+q with limit %d", text, limit)
	} else if assert.True(t, s.normalize(text), "expected stream to complete %+q with limit %d", text, limit) {
		assert.Equal(t, expected, string(s.buf[:s.n]), "stream mismatch for %+q with limit %d", text, limit)
	}
}

// assertStreamNarrows asserts that streaming text narrowed down to sorted keys completes on the key that
// Normalize gives, if it is one, and gives up or doesn't complete otherwise.
func assertStreamNarrows(t *testing.T, text string, keys []string) {
	t.Helper()

	s := stream{limit: MaxKeywordBytes, keys: keys, hi: len(keys)}
	k := Normalize(text)
	i, found := slices.BinarySearch(keys, k)
	if s.normalize(text) && s.complete() {
		assert.True(t, found && i == s.lo, "stream completed %+q on %+q, not on %+q", text, keys[s.lo], k)
	} else {
		assert.False(t, found, "expected stream to complete %+q on %+q", text, k)
	}
}

// narrowKeys are sorted keys that are prefixes of each other, whole or up to a separator or a multibyte rune.
var narrowKeys = []string{"#", "#a", "a", "a b", "a!b", "ab", "a\u0301", "e\u0301", "s", "sai", "sair", "st", "stop", "stop now", "stop!", "stop\U0001f64fnow", "z"}

func TestStream(t *testing.T) {
	require.True(t, slices.IsSorted(narrowKeys))
	texts := append([]string{"a", "A B", "a\u0301", "\u00e1", "Stop Now", "STOP!", "stop 🙏 now", "stop🙏now", "#A", "St", "sai", "s", "sa", "ZZ", "\u00c9", "t", "aa", "sb", "stoq"}, streamTexts...)
	for _, text := range texts {
		for _, limit := range []int{0, 1, 4, 8, 63, MaxKeywordBytes} {
			assertStreamAgrees(t, text, limit)
		}
		assertStreamNarrows(t, text, narrowKeys)
		assertStreamNarrows(t, text, Default.keys)
	}
}

func TestEveryRune(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds")
	}

	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		// each rune alone, with a mark that may compose with it or be reordered around it, between letters, and
		// after a format character that is kept only if it is a mark and before a keycap that only a few are the
		// base of
		for _, text := range []string{string(r), string(r) + "\u0301", "a" + string(r) + "b", "a\u200b" + string(r) + "\u20e3"} {
			k := Normalize(text)
			require.Equal(t, k, Normalize(k), "normalize not idempotent for %+q", text)
			assertStreamAgrees(t, text, MaxKeywordBytes)
		}
	}
}

// TestMatchAgreesWithNormalize matches messages made of pieces that take every path of the stream, ASCII and not,
// against catalogs whose keywords begin alike, and checks each answer against looking up Normalize's.
func TestMatchAgreesWithNormalize(t *testing.T) {
	set := Defaults()
	set.Add(OptOut, "eng", "stop now", "stop!", "st", "s", "e\u0301", "\u00e9x", "ok 👍", "1", "#1", "a\u200bb")
	prefixes, err := New(set, []i18n.Language{"por", "spa", "eng"}, "por")
	require.NoError(t, err)

	pieces := []string{
		"a", "s", "t", "o", "p", "S", "T", "O", "P", "x", "k", "r", "e", "1", "#", " ", "  ", "!", "*", "_", "~", ".", "\t",
		"stop", "PARAR", "#voltar", "#Receber", "sair", "salir", "exit", "ok",
		"\u00e9", "\u00c9", "e\u0301", "\u0301", "\u0323", "\u00e3", "\u00f1", "\u00bf", "\u00a1", "\u00a0", "\u2026",
		"\uff33", "\uff54", "\ufb01", "\u212a", "\u00df", "\u03a3", "\u03c2",
		"👍", "🏽", "🙏", "❤\ufe0f", "\ufe0f", "\u20e3", "🇧🇷", "\u200b", "\u200d", "\u202e", "\u00ad", "\U000e0041",
		"\xff", "\xe2\x82", "你好",
	}
	rnd := rand.New(rand.NewPCG(4, 2026))
	for range 50_000 {
		var b strings.Builder
		for range 1 + rnd.IntN(6) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		text := b.String()
		k := Normalize(text)
		for _, c := range []*Catalog{Default, prefixes} {
			m := c.Match(text, "spa")
			if e := c.entries[k]; e != nil {
				require.Equal(t, e.intent, m.Intent, "intent mismatch for %+q", text)
				require.Equal(t, e.keyword, m.Keyword, "keyword mismatch for %+q", text)
			} else {
				require.Equal(t, None, m.Intent, "unexpected match of %+q for %+q", m.Keyword, text)
			}
		}
	}
}
