// Package identity gives each contact one key, whatever spelling of its URN a client sends.
//
// A consent belongs to a person, not to a spelling of their number. The same WhatsApp user reaches the service as
// whatsapp:5511987650099 on a message, as tel:+55 (11) 98765-0099 in an import and as whatsapp:551187650099 in an
// older system's records; an opt-out stored under one spelling must stop a broadcast addressed to any other. So every
// URN a client gives goes through Key, and contacts and consents are stored and looked up by what it returns.
//
// Both phone schemes, tel and whatsapp, key to whatsapp: followed by the international number's digits without "+",
// the form WhatsApp itself gives a user's ID (wa_id) on every message, so the URN a message arrives with is usually
// its key already. Two numbering changes left old spellings of one number in use, and both are undone:
//
//   - Brazil gave every mobile a ninth digit, a 9 before the eight-digit subscriber number (completed in 2016), but
//     WhatsApp still identifies accounts made before then without it. A Brazilian mobile given without its ninth
//     digit gets it; landlines, whose subscriber numbers start with 2 to 5, keep eight digits.
//   - Mexico stopped dialling a 1 after +52 for mobiles in 2019, but WhatsApp still puts it in Mexican IDs
//     (521 and ten digits). A Mexican number given without the 1 gets it.
//
// Argentine mobiles are keyed with the 9 after +54, as in their WhatsApp IDs; a number given without it cannot be
// told from a landline and is left as it is.
//
// Other schemes are keyed as goflow normalizes them, without query or display.
package identity

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/phonenumbers/v2"

	"github.com/optout-dev/optout/internal/quote"
)

const (
	// minDigits is the shortest international number in use (Niue, Tokelau: a country code and four digits), and the
	// shortest goflow accepts in a tel: URN.
	minDigits = 7
	// maxDigits is E.164's longest international number.
	maxDigits = 15
)

// callingCodes[c] is whether c is a country calling code. No code is a prefix of another, so a number's first one,
// two or three digits name at most one.
var callingCodes [1000]bool

// ambiguousEscapes are the escapes goflow's URN parser can read two ways.
var ambiguousEscapes = []string{"%2523", "%2525", "%253F"}

func init() {
	for c := range phonenumbers.GetSupportedCallingCodes() {
		callingCodes[c] = true
	}
}

// Key returns the URN the service keys the contact of raw by. A number in a tel: URN without "+" is read as
// international digits, as a WhatsApp ID is; KeyIn reads it as a number of a workspace's country.
func Key(raw string) (urns.URN, error) {
	return KeyIn(raw, i18n.NilCountry)
}

// KeyIn is Key for a workspace in country (ISO 3166-1 alpha-2): a number in a tel: URN without "+" or a leading 00
// is read as a number dialled in country, national forms included (tel:011987650099 in BR is +55 11 98765-0099),
// and as international digits only if it is not a possible number there. WhatsApp IDs are always international.
func KeyIn(raw string, country i18n.Country) (urns.URN, error) {
	s := strings.TrimSpace(raw)
	scheme, rest, _ := strings.Cut(s, ":")
	isWhatsApp, isTel := strings.EqualFold(scheme, urns.WhatsApp.Prefix), strings.EqualFold(scheme, urns.Phone.Prefix)
	if !isWhatsApp && !isTel {
		return otherKey(raw, s, scheme, rest)
	}

	// the query and display a URN may carry say nothing about who it is, but goflow's parser says whether they are
	// well formed
	number := rest
	if strings.ContainsAny(rest, "?#") {
		u, err := parse(raw, urns.WhatsApp.Prefix+":"+rest)
		if err != nil {
			return urns.NilURN, err
		}
		number = u.Path()
	}

	var buf [64]byte // the digits as given, leading zeros included
	digits, plus, err := readNumber(buf[:0], number)
	if err != nil {
		return urns.NilURN, fmt.Errorf("%s is not a phone number: %w", quote.Q(raw), err)
	}
	if isTel && !plus && country != i18n.NilCountry && !bytes.HasPrefix(digits, []byte("00")) {
		if digits, err = national(digits, country); err != nil {
			return urns.NilURN, fmt.Errorf("%s is not a phone number in %s: %w", quote.Q(raw), country, err)
		}
	}
	// no country code starts with 0, so leading zeros are an international prefix (00) or stray
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
	}
	if err := checkInternational(digits); err != nil {
		return urns.NilURN, fmt.Errorf("%s is not a phone number: %w", quote.Q(raw), err)
	}
	digits = renumber(digits)

	if scheme == urns.WhatsApp.Prefix && rest == string(digits) {
		return urns.URN(s), nil
	}
	return urns.URN(urns.WhatsApp.Prefix + ":" + string(digits)), nil
}

// otherKey is the key of a URN in a scheme other than tel and whatsapp: its normalized identity.
func otherKey(raw, s, scheme, rest string) (urns.URN, error) {
	if lower := strings.ToLower(scheme); lower != scheme {
		s = lower + ":" + rest
	}
	u, err := parse(raw, s)
	if err != nil {
		return urns.NilURN, err
	}
	u = u.Normalize().Identity()
	if err := u.Validate(); err != nil {
		return urns.NilURN, fmt.Errorf("%s is not a valid URN: %w", quote.Q(raw), err)
	}
	return u, nil
}

// parse parses s, raw as the client gave it, with goflow's URN parser.
func parse(raw, s string) (urns.URN, error) {
	// goflow unescapes %23 (#), %25 (%) and %3F (?) in no set order, so that %2523 reads as %23 or as #: a
	// contact's key must not depend on the order
	for _, esc := range ambiguousEscapes {
		if strings.Contains(s, esc) {
			return urns.NilURN, fmt.Errorf("%s is not a valid URN: %s reads two ways", quote.Q(raw), esc)
		}
	}
	u, err := urns.Parse(s)
	if err != nil {
		return urns.NilURN, fmt.Errorf("%s is not a valid URN: %w", quote.Q(raw), err)
	}
	return u, nil
}

// readNumber reads the digits of number into buf, skipping the spaces, dashes, dots and parentheses people format
// numbers with, and says whether they follow a "+".
func readNumber(buf []byte, number string) (digits []byte, plus bool, err error) {
	for _, r := range number {
		switch {
		case '0' <= r && r <= '9':
			if len(buf) == cap(buf) {
				return nil, false, fmt.Errorf("more than %d digits", cap(buf))
			}
			buf = append(buf, byte(r))
		case r == '+' && !plus && len(buf) == 0:
			plus = true
		case r == '.' || r == '(' || r == ')' || unicode.IsSpace(r) || unicode.Is(unicode.Pd, r):
		default:
			return nil, false, fmt.Errorf("%q is not a digit", r)
		}
	}
	if len(buf) == 0 {
		return nil, false, errors.New("no digits")
	}
	return buf, plus, nil
}

// national reads digits as dialled in country, returning the international number's digits.
func national(digits []byte, country i18n.Country) ([]byte, error) {
	if phonenumbers.GetCountryCodeForRegion(string(country)) == 0 {
		return nil, errors.New("unknown country")
	}
	e164, err := urns.ParseNumber(string(digits), country, false, false)
	if err != nil {
		return nil, err
	}
	return append(digits[:0], e164[1:]...), nil
}

// checkInternational checks that digits, without leading zeros, can be an international number.
func checkInternational(digits []byte) error {
	switch {
	case len(digits) < minDigits:
		return fmt.Errorf("%d digits without leading zeros, fewer than %d", len(digits), minDigits)
	case len(digits) > maxDigits:
		return fmt.Errorf("%d digits without leading zeros, more than E.164's %d", len(digits), maxDigits)
	}
	code := 0
	for _, d := range digits[:3] {
		if code = code*10 + int(d-'0'); callingCodes[code] {
			return nil
		}
	}
	return fmt.Errorf("%s starts with no country calling code", string(digits))
}

// renumber returns the current spelling of an international number that a numbering change left two spellings of.
// digits has room for one more digit.
func renumber(digits []byte) []byte {
	switch {
	// Brazil: 55, a two-digit area code without zeros, and an eight-digit mobile subscriber number (6 to 9)
	case len(digits) == 12 && digits[0] == '5' && digits[1] == '5' && digits[2] != '0' && digits[3] != '0' && digits[4] >= '6':
		return insertAt(digits, 4, '9')
	// Mexico: 52 and ten digits, the first of which is never 1
	case len(digits) == 12 && digits[0] == '5' && digits[1] == '2' && digits[2] != '1':
		return insertAt(digits, 2, '1')
	}
	return digits
}

func insertAt(digits []byte, i int, d byte) []byte {
	digits = append(digits, 0)
	copy(digits[i+1:], digits[i:])
	digits[i] = d
	return digits
}
