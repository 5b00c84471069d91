package keywords

import (
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// pieceSize is about how many bytes of a message are normalized at a time. It is small because a message is
// rejected as soon as what it normalizes to is no keyword's beginning, which is within a few bytes for most.
const pieceSize = 16

// iters lends NFKD iterators to Match. Iter.Next calls through a function field, so the compiler moves even a
// local Iter to the heap, and at 736 bytes it is not something to allocate for every message.
var iters = sync.Pool{New: func() any { return new(norm.Iter) }}

// asciiRune is the folded form and class of an ASCII rune.
type asciiRune struct {
	folded byte
	class  class
}

// asciiRunes caches asciiRune for every ASCII rune, as looking them up in the unicode tables is most of the time
// spent on a message otherwise.
var asciiRunes [utf8.RuneSelf]asciiRune

func init() {
	for r := range rune(utf8.RuneSelf) {
		folded, c := fold(r)
		asciiRunes[r] = asciiRune{folded: byte(folded), class: c}
	}
}

// stream normalizes a message as Normalize does, into a fixed buffer, and gives up as soon as the normalized
// message is known to be longer than limit, or, given keys, to be none of them. Only the significant part of the
// message counts, so leading and trailing whitespace, punctuation and emoji can be as long as they like.
//
// What Normalize decides by looking at the runes after one, the stream decides when they come: a format character
// is held until the next rune tells whether it is dropped, and a digit or '#' until the next one or two tell
// whether it is the base of a keycap.
type stream struct {
	buf   [MaxKeywordBytes]byte
	limit int  // at most len(buf)
	n     int  // length up to the end of the last significant rune
	w     int  // length including the separators since, or limit once they don't fit
	space bool // whether the last rune was whitespace, already written as the single space of its run

	format    rune // the format character held, 0 if none
	base      rune // the keycap base held, 0 if none
	presented bool // whether U+FE0F, which asks for emoji presentation, followed the keycap base held

	// keys are sorted keywords the message may be, nil for any, and keys[lo:hi] those that start with the
	// message normalized so far. Whatever follows the last significant rune either is trimmed or comes before
	// another, so the message is narrowed down as each significant rune is written.
	keys   []string
	lo, hi int
}

// normalize feeds text through the stream, returning false as soon as it can no longer fit in the limit or be
// one of the keys. The buffer then holds the normalized message up to n.
func (s *stream) normalize(text string) bool {
	var it *norm.Iter // borrowed for the first piece that isn't in NFKD already
	defer func() {
		if it != nil {
			release(it)
		}
	}()

	for text != "" {
		// ASCII is in NFKD and is never reordered with what follows, so it needs neither decoding nor the norm
		// package, which is all most messages are up to where they are known not to be a keyword
		if b := text[0]; b < utf8.RuneSelf {
			if !s.write(rune(b)) {
				return false
			}
			text = text[1:]
			continue
		}

		if n := invalidPrefix(text); n > 0 {
			if !s.write(utf8.RuneError) {
				return false
			}
			text = text[n:]
			continue
		}

		// emoji are not decomposed
		if r, size := utf8.DecodeRuneInString(text); isEmoji(r) {
			if !s.write(r) {
				return false
			}
			text = text[size:]
			continue
		}

		piece := text[:nextPiece(text)]
		text = text[len(piece):]

		if norm.NFKD.QuickSpanString(piece) == len(piece) {
			for _, r := range piece {
				if !s.write(r) {
					return false
				}
			}
			continue
		}

		if it == nil {
			it = iters.Get().(*norm.Iter)
		}
		it.InitString(norm.NFKD, piece)
		for !it.Done() {
			// decoded by hand as ranging over string(seg) allocates for a segment longer than 32 bytes
			for seg := it.Next(); len(seg) > 0; {
				r, size := utf8.DecodeRune(seg)
				if !s.write(r) {
					return false
				}
				seg = seg[size:]
			}
		}
	}
	return s.end()
}

// invalidPrefix returns the length of the run of invalid UTF-8 that text starts with, which like
// strings.ToValidUTF8 the stream takes as a single U+FFFD.
func invalidPrefix(text string) int {
	n := 0
	for n < len(text) {
		if r, size := utf8.DecodeRuneInString(text[n:]); r != utf8.RuneError || size != 1 {
			break
		}
		n++
	}
	return n
}

// nextPiece returns the length of the piece of text to normalize next. It is valid UTF-8 and ends where NFKD can
// split text, so that it normalizes on its own: at the end of text, before an invalid byte, which becomes U+FFFD,
// before an emoji, which is not decomposed, or before the first rune that starts a segment after pieceSize
// bytes. Keeping invalid UTF-8 from the norm package matters: it copies what looks like a truncated rune at the
// end of its input as is, even when that holds a whole rune that ought to be decomposed.
func nextPiece(text string) int {
	end := 0
	for end < len(text) {
		ascii := text[end] < utf8.RuneSelf // which always starts a segment
		if end >= pieceSize && (ascii || norm.NFKD.PropertiesString(text[end:]).BoundaryBefore()) {
			break
		}
		if ascii {
			end++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[end:])
		if r == utf8.RuneError && size == 1 || isEmoji(r) {
			break
		}
		end += size
	}
	return end
}

// release returns an iterator to the pool, cleared so that it doesn't keep the message alive.
func release(it *norm.Iter) {
	*it = norm.Iter{}
	iters.Put(it)
}

// write appends a rune of NFKD text, returning false if that makes the message longer than the limit.
func (s *stream) write(r rune) bool {
	var c class
	if r < utf8.RuneSelf {
		r, c = rune(asciiRunes[r].folded), asciiRunes[r].class
	} else {
		r, c = fold(r)
	}

	if s.format == 0 && s.base == 0 && c != format && c != keycapBase {
		return s.put(r, c)
	}
	return s.settle(r, c)
}

// settle appends a folded rune of class c, settling the class of the runes held before it, and holding it if its
// own class depends on what follows.
func (s *stream) settle(r rune, c class) bool {
	if s.format != 0 {
		f := s.format
		s.format = 0
		if isMark(r) && !s.follow(f, significant) {
			return false
		}
	}
	if c == format {
		s.format = r
		return true
	}
	return s.follow(r, c)
}

// follow appends a folded rune of class c after the keycap base held, which it makes an emoji if it is U+20E3,
// with or without U+FE0F before it.
func (s *stream) follow(r rune, c class) bool {
	if s.base != 0 {
		if r == emojiPresentation && !s.presented {
			s.presented = true
			return true
		}
		base := significant
		if r == keycap {
			base = decoration
		}
		if !s.releaseBase(base) {
			return false
		}
	}
	if c == keycapBase {
		s.base = r
		return true
	}
	return s.put(r, c)
}

// releaseBase appends the keycap base held, and the U+FE0F that followed it, as a base of class c.
func (s *stream) releaseBase(c class) bool {
	base, presented := s.base, s.presented
	s.base, s.presented = 0, false
	return s.put(base, c) && (!presented || s.put(emojiPresentation, decoration))
}

// end appends what is held at the end of the text: a keycap base, which nothing made an emoji, but not a format
// character, which no mark follows.
func (s *stream) end() bool {
	s.format = 0
	return s.base == 0 || s.releaseBase(significant)
}

// put appends a folded rune of class c.
func (s *stream) put(r rune, c class) bool {
	switch c {
	case whitespace:
		if s.n > 0 && !s.space {
			s.separate(' ')
		}
		s.space = true
	case decoration:
		if s.n > 0 {
			s.separate(r)
		}
		s.space = false
	default:
		if !s.append(r) || !s.narrow() {
			return false
		}
		s.n = s.w
		s.space = false
	}
	return true
}

// narrow narrows the keys down to those that start with what was written since the last significant rune,
// returning false if none does.
func (s *stream) narrow() bool {
	if s.keys == nil {
		return true
	}
	// keys[lo:hi] share the first n bytes, so those with byte i equal to b are contiguous, after any that end
	for i := s.n; i < s.w; i++ {
		b := s.buf[i]
		for s.lo < s.hi && (len(s.keys[s.lo]) <= i || s.keys[s.lo][i] < b) {
			s.lo++
		}
		for s.lo < s.hi && s.keys[s.hi-1][i] > b {
			s.hi--
		}
	}
	return s.lo < s.hi
}

// complete reports whether the message normalized is keys[lo], once normalize has returned true.
func (s *stream) complete() bool {
	return s.lo < s.hi && len(s.keys[s.lo]) == s.n
}

// separate writes whitespace or punctuation that is kept only if something significant follows. If it doesn't
// fit, anything significant that follows would not either, and if nothing does it is trimmed, so it need not be
// stored: the buffer is marked full instead.
func (s *stream) separate(r rune) {
	if !s.append(r) {
		s.w = s.limit
	}
}

// append appends r to the buffer if it fits in the limit.
func (s *stream) append(r rune) bool {
	if s.w+utf8.RuneLen(r) > s.limit {
		return false
	}
	s.w += utf8.EncodeRune(s.buf[s.w:], r)
	return true
}
