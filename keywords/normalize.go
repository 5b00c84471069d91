package keywords

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

//go:generate go run maketables.go

// MaxKeywordBytes is the maximum length of a normalized keyword in bytes of UTF-8. It bounds how much of a message
// Match has to normalize before it knows the message is not a keyword.
const MaxKeywordBytes = 64

// Normalize returns the form in which keywords and messages are compared, which ignores what phones and people
// add around a word:
//
//   - compatibility decomposed (NFKD) and case folded, but for emoji, which are left as they are;
//   - without format characters (category Cf: zero-width spaces, joiners and non-joiners, word joiners, soft
//     hyphens, byte order marks, bidirectional marks, embeddings, overrides and isolates, tags), except one
//     right before a combining mark;
//   - without leading or trailing whitespace, punctuation other than '#', WhatsApp's formatting markers (* _ ~ `)
//     and emoji: pictographs, skin tones, regional indicators, variation selectors and keycaps, which are a
//     digit or '#' followed by U+20E3, with or without U+FE0F between them;
//   - with inner runs of whitespace collapsed to one space, and everything else inside kept, so that an emoji
//     between two words still makes them a sentence.
//
// Each run of invalid UTF-8 becomes one U+FFFD.
//
// NFKD identifies exactly the strings that NFKC does, so "ＳＴＯＰ" is "stop" and "ﬁm" is "fim", but it never
// composes, and composing is what would make Normalize(Normalize(s)) differ from Normalize(s): folding can make
// a sequence composable (T U+0308 folds to t U+0308, which NFKC composes to U+1E97), and x/text's composition has
// an open bug that composes some supplementary-plane letters with a mark into unrelated characters
// (golang/go#81028). The cost is that a keyword with accents is decomposed, which displays the same. Emoji are
// not decomposed as "STOP™" would otherwise be "stoptm", and "Ⓜ️" an "m".
//
// A format character before a combining mark is kept as it is what keeps the mark off the letter before it, and
// apart from the marks before it: dropping it would make Normalize(Normalize(s)) reorder them. Such a message
// is not a keyword anyway.
//
// Invalid UTF-8 is replaced before decomposing as the norm package copies what looks like a truncated rune at the
// end of its input as is, even when that holds a whole rune that ought to be decomposed.
//
// This is the reference implementation, written to be obviously right. Match streams the same normalization into
// a fixed buffer so that it doesn't allocate, and is tested and fuzzed against this.
func Normalize(s string) string {
	type folded struct {
		r rune
		c class
	}
	var runes []folded
	for _, r := range decompose(strings.ToValidUTF8(s, "\uFFFD")) {
		r, c := fold(r)
		runes = append(runes, folded{r, c})
	}

	kept := runes[:0]
	for i, f := range runes {
		if f.c == format {
			if i+1 == len(runes) || !isMark(runes[i+1].r) {
				continue
			}
			f.c = significant
		}
		kept = append(kept, f)
	}
	runes = kept

	for i, f := range runes {
		if f.c != keycapBase {
			continue
		}
		next := runes[i+1:]
		if len(next) > 0 && next[0].r == emojiPresentation {
			next = next[1:]
		}
		if len(next) > 0 && next[0].r == keycap {
			runes[i].c = decoration
		} else {
			runes[i].c = significant
		}
	}

	isSignificant := func(f folded) bool { return f.c == significant }
	start, end := slices.IndexFunc(runes, isSignificant), 0
	if start < 0 {
		return ""
	}
	for i, f := range runes {
		if isSignificant(f) {
			end = i + 1
		}
	}

	var b strings.Builder
	for i, f := range runes[start:end] {
		if f.c != whitespace {
			b.WriteRune(f.r)
		} else if runes[start+i-1].c != whitespace {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// decompose returns s in NFKD but for its emoji, which are left as they are.
func decompose(s string) string {
	var b strings.Builder
	for s != "" {
		before, emoji, after := cutEmoji(s)
		b.WriteString(norm.NFKD.String(before))
		if emoji != 0 {
			b.WriteRune(emoji)
		}
		s = after
	}
	return b.String()
}

// cutEmoji slices s around its first emoji, returning all of s before a zero emoji if it has none. Emoji are
// starters that don't combine with what comes before or after them, so the text between them decomposes on its
// own as it does in place.
func cutEmoji(s string) (before string, emoji rune, after string) {
	i := strings.IndexFunc(s, isEmoji)
	if i < 0 {
		return s, 0, ""
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	return s[:i], r, s[i+size:]
}

// class is what normalization does with a folded rune.
type class uint8

const (
	significant class = iota
	whitespace        // trimmed at the ends, collapsed to one space inside
	decoration        // trimmed at the ends, kept inside: punctuation, formatting markers and emoji
	format            // dropped unless a combining mark follows, which makes it significant
	keycapBase        // a digit or '#': decoration when a keycap follows, which makes it an emoji, else significant
)

// fold case folds a rune of NFKD text and returns its class.
//
// Going through upper case first maps every case of a letter to the same rune (σ, ς and Σ all become σ), which
// ToLower alone doesn't. It is simple rather than full case folding (ß stays ß instead of becoming ss) so that one
// rune in gives one rune out and the streaming matcher never has to look ahead. The same folding is applied to
// keywords and messages, so consistency is what matters. Emoji are not folded, as Ⓜ would become ⓜ, which is not
// one.
//
// '#' is punctuation but is significant because it marks the opt-in keywords: "voltar" must not opt a contact
// back in, "#voltar" must. It is an emoji, though, as the base of a keycap, like a digit. '*' can be one too, but
// is trimmed anyway as one of WhatsApp's formatting markers, * _ ~ and `, of which the first two are punctuation.
func fold(r rune) (rune, class) {
	if isEmoji(r) {
		return r, decoration
	}
	r = unicode.ToLower(unicode.ToUpper(r))
	switch {
	case unicode.IsSpace(r):
		return r, whitespace
	case unicode.Is(unicode.Cf, r):
		return r, format
	case '0' <= r && r <= '9' || r == '#':
		return r, keycapBase
	case unicode.IsPunct(r) || r == '~' || r == '`':
		return r, decoration
	default:
		return r, significant
	}
}

// isEmoji reports whether r is a rune of emoji other than the base of a keycap, a zero-width joiner or a tag.
func isEmoji(r rune) bool {
	if r <= 0xFFFF && emojiBlocks[r>>12]&(1<<(r>>6&63)) == 0 {
		return false
	}
	return unicode.Is(emoji, r)
}

// The runes that make an emoji of a keycap base.
const (
	emojiPresentation = '\ufe0f' // VARIATION SELECTOR-16
	keycap            = '\u20e3' // COMBINING ENCLOSING KEYCAP
)

// isMark reports whether r is a combining mark that canonical ordering moves, one with a non-zero combining class.
func isMark(r rune) bool {
	var b [utf8.UTFMax]byte
	return norm.NFKD.Properties(b[:utf8.EncodeRune(b[:], r)]).CCC() != 0
}
