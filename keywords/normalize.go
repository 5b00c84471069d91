package keywords

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxKeywordBytes is the maximum length of a normalized keyword in bytes of UTF-8. It bounds how much of a message
// Match has to normalize before it knows the message is not a keyword.
const MaxKeywordBytes = 64

// Normalize returns the form in which keywords and messages are compared: compatibility decomposed (NFKD), case
// folded, without leading or trailing whitespace and punctuation other than '#', and with inner runs of
// whitespace collapsed to one space. Each run of invalid UTF-8 becomes one U+FFFD.
//
// NFKD identifies exactly the strings that NFKC does, so "ＳＴＯＰ" is "stop" and "ﬁm" is "fim", but it never
// composes, and composing is what would make Normalize(Normalize(s)) differ from Normalize(s): folding can make
// a sequence composable (T U+0308 folds to t U+0308, which NFKC composes to U+1E97), and x/text's composition has
// an open bug that composes some supplementary-plane letters with a mark into unrelated characters
// (golang/go#81028). The cost is that a keyword with accents is decomposed, which displays the same.
//
// Invalid UTF-8 is replaced before decomposing as the norm package copies what looks like a truncated rune at the
// end of its input as is, even when that holds a whole rune that ought to be decomposed.
//
// This is the reference implementation, written to be obviously right. Match streams the same normalization into
// a fixed buffer so that it doesn't allocate, and is tested and fuzzed against this.
func Normalize(s string) string {
	s = strings.Map(fold, norm.NFKD.String(strings.ToValidUTF8(s, "\uFFFD")))
	s = strings.TrimFunc(s, isTrimmed)
	return strings.Join(strings.Fields(s), " ")
}

// fold case folds a rune. Going through upper case first maps every case of a letter to the same rune (σ, ς and Σ
// all become σ), which ToLower alone doesn't. It is simple rather than full case folding (ß stays ß instead of
// becoming ss) so that one rune in gives one rune out and the streaming matcher never has to look ahead. The same
// folding is applied to keywords and messages, so consistency is what matters.
func fold(r rune) rune {
	return unicode.ToLower(unicode.ToUpper(r))
}

// class is what normalization does with a folded rune.
type class uint8

const (
	significant class = iota
	whitespace        // trimmed at the ends, collapsed to one space inside
	punctuation       // trimmed at the ends, kept inside
)

// classify returns the class of a folded rune. '#' is punctuation but is significant because it marks the opt-in
// keywords: "voltar" must not opt a contact back in, "#voltar" must.
func classify(r rune) class {
	switch {
	case unicode.IsSpace(r):
		return whitespace
	case unicode.IsPunct(r) && r != '#':
		return punctuation
	default:
		return significant
	}
}

// isTrimmed reports whether r is removed from the ends of a normalized string.
func isTrimmed(r rune) bool {
	return classify(r) != significant
}
