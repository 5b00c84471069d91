// Package sanitize keeps control characters, which people don't type and databases may refuse (PostgreSQL refuses
// NUL in any text), out of what the service stores. What a WhatsApp user controls (a profile name, a message) is
// cleaned, because refusing it would keep that person from opting out; what a business configures is checked, and
// refused with an error that says where the character is, because it has someone to fix it.
package sanitize

import (
	"fmt"
	"strings"
	"unicode"
)

// Name cleans a name, a contact's or a workspace's: control characters are removed, as a name is one line, and so is
// whitespace around it.
func Name(s string) string {
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return -1
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}

// Text cleans a message's text: control characters are removed but for tabs and line breaks, which messages have.
func Text(s string) string {
	if strings.IndexFunc(s, isForbidden) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isForbidden(r) {
			return -1
		}
		return r
	}, s)
}

// Check says where in s the first control character is, tabs and line breaks but for which text may have.
func Check(s string) error {
	for i, r := range []rune(s) {
		if isForbidden(r) {
			return fmt.Errorf("has the control character %U at character %d", r, i+1)
		}
	}
	return nil
}

func isForbidden(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}
