package identity_test

import (
	"strings"
	"testing"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/optout-dev/optout/identity"
	"github.com/stretchr/testify/assert"
)

func TestKey(t *testing.T) {
	tcs := []struct {
		raw  string
		want urns.URN
	}{
		// the spellings of one Brazilian mobile that issue 7 found keyed apart
		{"whatsapp:5511987650099", "whatsapp:5511987650099"},
		{"tel:+5511987650099", "whatsapp:5511987650099"},
		{"whatsapp:551187650099", "whatsapp:5511987650099"},
		{"whatsapp:05511987650099", "whatsapp:5511987650099"},
		// and more of them
		{"tel:+55 (11) 98765-0099", "whatsapp:5511987650099"},
		{"tel:+55.11.98765.0099", "whatsapp:5511987650099"},
		{"tel:+55 11 98765\u20130099", "whatsapp:5511987650099"},      // en dash, as word processors write it
		{"tel:+55\u00a011\u00a098765-0099", "whatsapp:5511987650099"}, // no-break spaces, as spreadsheets keep them
		{"tel:5511987650099", "whatsapp:5511987650099"},
		{"tel:005511987650099", "whatsapp:5511987650099"},
		{"tel:+005511987650099", "whatsapp:5511987650099"},
		{"tel:+55 11 8765-0099", "whatsapp:5511987650099"},
		{"whatsapp:+5511987650099", "whatsapp:5511987650099"},
		{"WHATSAPP:5511987650099", "whatsapp:5511987650099"},
		{"Tel:+5511987650099", "whatsapp:5511987650099"},
		{"  whatsapp:5511987650099\n", "whatsapp:5511987650099"},
		{"whatsapp:5511987650099?channel=4e8b1c1e-2b8a-4d1c-9d6e-0a2f3b4c5d6e#Ana", "whatsapp:5511987650099"},
		{"tel:+551187650099#Ana", "whatsapp:5511987650099"},

		// every mobile subscriber number of the old eight digits starts with 6 to 9
		{"whatsapp:552161234567", "whatsapp:5521961234567"},
		{"whatsapp:559971234567", "whatsapp:5599971234567"},
		// landlines start with 2 to 5 and keep their eight digits
		{"tel:+551133334444", "whatsapp:551133334444"},
		{"tel:+55 11 5333-4444", "whatsapp:551153334444"},
		// no area code has a zero, so these are no Brazilian mobiles to renumber
		{"whatsapp:551087650099", "whatsapp:551087650099"},
		{"whatsapp:550187650099", "whatsapp:550187650099"},

		// Mexico: WhatsApp IDs keep the 1 that mobiles lost in 2019
		{"whatsapp:5215512340002", "whatsapp:5215512340002"},
		{"tel:+52 55 1234 0002", "whatsapp:5215512340002"},
		{"tel:+52 1 55 1234 0002", "whatsapp:5215512340002"},
		// Argentina: mobiles have a 9 after 54, and without it are no different from landlines
		{"whatsapp:5491123456789", "whatsapp:5491123456789"},
		{"tel:+54 9 11 2345-6789", "whatsapp:5491123456789"},
		{"tel:+54 11 2345-6789", "whatsapp:541123456789"},
		// numbers of countries without such changes are only stripped
		{"tel:+1 (201) 555-0123", "whatsapp:12015550123"},
		{"whatsapp:447700900003", "whatsapp:447700900003"},
		{"tel:+44 7700 900003", "whatsapp:447700900003"},
		{"tel:+683 4002", "whatsapp:6834002"},                   // Niue: the shortest numbers in use
		{"tel:+882 1234 5678 9012", "whatsapp:882123456789012"}, // an international network: as long as E.164 allows

		// a tel: number without + and without a country is international, as a WhatsApp ID is
		{"tel:11987650099", "whatsapp:11987650099"},

		// other schemes as goflow normalizes them
		{"telegram:12345678", "telegram:12345678"},
		{"TELEGRAM:12345678#Ana", "telegram:12345678"},
		{"mailto:Ana@Example.com", "mailto:ana@example.com"},
		{"MAILTO:Ana@Example.com", "mailto:ana@example.com"},
		{"ext:Ana-01", "ext:Ana-01"},
		{"ext: Ana-01 ?id=1", "ext:Ana-01"},
		{"twitter:@Ana", "twitter:ana"},
		{"bsuid:br.AbC123", "bsuid:BR.AbC123"},
		{"mailto:a%25b@example.com", "mailto:a%25b@example.com"},
		{"ext:a%23b%3Fc", "ext:a%23b%3Fc"},
	}
	for _, tc := range tcs {
		got, err := identity.Key(tc.raw)
		if assert.NoError(t, err, "key of %q", tc.raw) {
			assert.Equal(t, tc.want, got, "key of %q", tc.raw)
		}
	}
}

func TestKeyIn(t *testing.T) {
	tcs := []struct {
		raw     string
		country i18n.Country
		want    urns.URN
	}{
		{"tel:11987650099", "BR", "whatsapp:5511987650099"},
		{"tel:(11) 98765-0099", "BR", "whatsapp:5511987650099"},
		{"tel:011 98765-0099", "BR", "whatsapp:5511987650099"},
		{"tel:0 21 11 98765-0099", "BR", "whatsapp:5511987650099"}, // with a long-distance carrier code
		{"tel:(11) 8765-0099", "BR", "whatsapp:5511987650099"},
		{"tel:(11) 3333-4444", "BR", "whatsapp:551133334444"},
		{"tel:5511987650099", "BR", "whatsapp:5511987650099"},
		{"tel:551187650099", "BR", "whatsapp:5511987650099"},
		{"tel:05511987650099", "BR", "whatsapp:5511987650099"},
		{"tel:005511987650099", "BR", "whatsapp:5511987650099"}, // 00 is international even where it is not
		{"tel:+1 201 555 0123", "BR", "whatsapp:12015550123"},
		{"tel:447700900003", "BR", "whatsapp:447700900003"}, // no number in Brazil, so international
		{"whatsapp:11987650099", "BR", "whatsapp:11987650099"},
		{"whatsapp:551187650099", "BR", "whatsapp:5511987650099"},

		{"tel:55 1234 0002", "MX", "whatsapp:5215512340002"},
		{"tel:011 15 2345-6789", "AR", "whatsapp:5491123456789"},
		{"tel:11 15 2345-6789", "AR", "whatsapp:5491123456789"},
		{"tel:(201) 555-0123", "US", "whatsapp:12015550123"},
		{"tel:5511987650099", "US", "whatsapp:5511987650099"},
		{"tel:07700 900003", "GB", "whatsapp:447700900003"},

		{"mailto:Ana@Example.com", "BR", "mailto:ana@example.com"},
	}
	for _, tc := range tcs {
		got, err := identity.KeyIn(tc.raw, tc.country)
		if assert.NoError(t, err, "key of %q in %s", tc.raw, tc.country) {
			assert.Equal(t, tc.want, got, "key of %q in %s", tc.raw, tc.country)
		}
	}
}

func TestKeyErrors(t *testing.T) {
	tcs := []struct {
		raw     string
		country i18n.Country
		err     string
	}{
		{"", "", `"" is not a valid URN: scheme cannot be empty`},
		{"5511987650099", "", `"5511987650099" is not a valid URN: path cannot be empty`},
		{"foo:bar", "", `"foo:bar" is not a valid URN: unknown URN scheme`},
		{"telegram:ana", "", `"telegram:ana" is not a valid URN: invalid path component`},
		{"mailto:a%2523b@example.com", "", `"mailto:a%2523b@example.com" is not a valid URN: %2523 reads two ways`},
		{"ext:a%253F", "", `"ext:a%253F" is not a valid URN: %253F reads two ways`},
		{"whatsapp:55%2523#Ana", "", `"whatsapp:55%2523#Ana" is not a valid URN: %2523 reads two ways`},
		{"whatsapp:5511987650099#Ana?x", "", `"whatsapp:5511987650099#Ana?x" is not a valid URN: query component can only come after path component`},

		{"whatsapp:", "", `"whatsapp:" is not a phone number: no digits`},
		{"tel:+()", "", `"tel:+()" is not a phone number: no digits`},
		{"whatsapp:ana", "", `"whatsapp:ana" is not a phone number: 'a' is not a digit`},
		{"tel:1-800-FLOWERS", "", `"tel:1-800-FLOWERS" is not a phone number: 'F' is not a digit`},
		{"tel:+55 11 98765-0099 ext 12", "", `"tel:+55 11 98765-0099 ext 12" is not a phone number: 'e' is not a digit`},
		{"tel:55+11987650099", "", `"tel:55+11987650099" is not a phone number: '+' is not a digit`},
		{"tel:++5511987650099", "", `"tel:++5511987650099" is not a phone number: '+' is not a digit`},
		{"whatsapp:٥٥١١٩٨٧٦٥٠٠٩٩", "", `"whatsapp:٥٥١١٩٨٧٦٥٠٠٩٩" is not a phone number: '٥' is not a digit`},
		{"whatsapp:\xff55", "", `"whatsapp:\xff55" is not a phone number: '�' is not a digit`},
		{"whatsapp:1", "", `"whatsapp:1" is not a phone number: 1 digits without leading zeros, fewer than 7`},
		{"tel:MTN", "", `"tel:MTN" is not a phone number: 'M' is not a digit`},
		{"tel:+1234", "", `"tel:+1234" is not a phone number: 4 digits without leading zeros, fewer than 7`},
		{"whatsapp:000123456", "", `"whatsapp:000123456" is not a phone number: 6 digits without leading zeros, fewer than 7`},
		{"whatsapp:5511987650099000", "", `"whatsapp:5511987650099000" is not a phone number: 16 digits without leading zeros, more than E.164's 15`},
		{"whatsapp:2891234567", "", `"whatsapp:2891234567" is not a phone number: 2891234567 starts with no country calling code`},
		{"tel:" + strings.Repeat("0", 65), "", `"tel:` + strings.Repeat("0", 65) + `" is not a phone number: more than 64 digits`},

		{"tel:1234567890123", "BR", `"tel:1234567890123" is not a phone number in BR: not a possible number`},
		{"tel:11987650099", "XX", `"tel:11987650099" is not a phone number in XX: unknown country`},
	}
	for _, tc := range tcs {
		_, err := identity.KeyIn(tc.raw, tc.country)
		assert.EqualError(t, err, tc.err, "key of %q in %q", tc.raw, tc.country)
	}
}

func TestKeyErrorQuotesAtMost100Characters(t *testing.T) {
	_, err := identity.Key("whatsapp:" + strings.Repeat("é", 100))
	assert.EqualError(t, err, `"whatsapp:`+strings.Repeat("é", 91)+`"… is not a phone number: 'é' is not a digit`)

	_, err = identity.Key("ext:" + strings.Repeat("x", 300))
	assert.EqualError(t, err, `"ext:`+strings.Repeat("x", 96)+`"… is not a valid URN: path component too long`)
}

func TestKeyAllocations(t *testing.T) {
	// a key given as it is, as most messages' URNs are, is the URN itself
	raw := "whatsapp:5511987650099"
	allocs := testing.AllocsPerRun(100, func() { identity.Key(raw) })
	assert.Equal(t, 0.0, allocs, "allocations keying %q", raw)

	// any other spelling of a number costs the key's string
	for _, raw := range []string{"whatsapp:551187650099", "tel:+55 (11) 98765-0099", "WHATSAPP:5511987650099"} {
		allocs := testing.AllocsPerRun(100, func() { identity.Key(raw) })
		assert.Equal(t, 1.0, allocs, "allocations keying %q", raw)
	}
}

func BenchmarkKey(b *testing.B) {
	for _, raw := range []string{"whatsapp:5511987650099", "whatsapp:551187650099", "tel:+55 (11) 98765-0099"} {
		b.Run(raw, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				identity.Key(raw)
			}
		})
	}
	// what keyed a contact before: goflow's normalized identity, which keeps the spellings apart
	b.Run("goflow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			u, _ := urns.Parse("whatsapp:5511987650099")
			u.Normalize().Identity().Validate()
		}
	})
}
