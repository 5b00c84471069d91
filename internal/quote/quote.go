// Package quote quotes what a client sent for an error message. A message names the value at fault so that the
// client can find it, but repeating all of a value that can be megabytes long would make the error the bigger
// problem, in the response and in every log line that carries it.
package quote

import (
	"strconv"
	"unicode/utf8"
)

// MaxChars is how many characters of a value an error quotes at most.
const MaxChars = 100

// Q quotes s as %q does, clipped to its first MaxChars characters and an ellipsis after the closing quote when it is
// longer.
func Q(s string) string {
	cut, n := 0, 0
	for cut < len(s) && n < MaxChars {
		_, size := utf8.DecodeRuneInString(s[cut:])
		cut += size
		n++
	}
	if cut == len(s) {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:cut]) + "…"
}
