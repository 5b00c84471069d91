package identity_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/optout-dev/optout/identity"
	"github.com/stretchr/testify/require"
)

// A key is what the service stores and compares, so whatever a client sends, Key must not panic, and what it
// returns must be a valid URN that keys to itself, in any workspace's country: a key read back is the same key.
func FuzzKey(f *testing.F) {
	for _, seed := range []string{
		"whatsapp:5511987650099", "whatsapp:551187650099", "whatsapp:05511987650099", "tel:+55 (11) 98765-0099",
		"WHATSAPP:5511987650099", "tel:005511987650099", "tel:+551133334444", "tel:11987650099", "tel:0 21 11 98765-0099",
		"whatsapp:5215512340002", "tel:+52 55 1234 0002", "tel:+54 9 11 2345-6789", "tel:+1 (201) 555-0123",
		"whatsapp:5511987650099?channel=x#Ana", "whatsapp:55#a?b", "tel:+683 4002", "tel:1-800-FLOWERS", "whatsapp:",
		"telegram:12345678", "MAILTO:Ana@Example.com", "ext: Ana-01 ?id=1", "twitter:@Ana", "bsuid:br.AbC123",
		"mailto:a%2523b@x", "ext:%3F%23", "", ":", "tel:\u00a0+55\u201311", "whatsapp:\xff",
	} {
		f.Add(seed)
	}
	countries := []i18n.Country{i18n.NilCountry, "BR", "MX", "AR", "US"}

	f.Fuzz(func(t *testing.T, raw string) {
		for _, country := range countries {
			key, err := identity.KeyIn(raw, country)
			if err != nil {
				require.NotEmpty(t, err.Error())
				continue
			}
			require.NoError(t, key.Validate(), "key %q of %q in %q", key, raw, country)
			require.Equal(t, key, key.Identity(), "key %q of %q in %q has a query or display", key, raw, country)
			for _, again := range countries {
				rekey, err := identity.KeyIn(string(key), again)
				require.NoError(t, err, "key %q of %q in %q, keyed in %q", key, raw, country, again)
				require.Equal(t, key, rekey, "key %q of %q in %q, keyed in %q", key, raw, country, again)
			}
		}
	})
}

// Every spelling of one number keys alike, or is refused alike.
func FuzzSpellings(f *testing.F) {
	for _, seed := range []uint64{5511987650099, 551187650099, 551133334444, 5215512340002, 525512340002, 12015550123, 6834002, 123456, 2891234567} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, n uint64) {
		digits := strconv.FormatUint(n, 10)
		want, wantErr := identity.Key("whatsapp:" + digits)
		for _, spelling := range []string{
			"tel:+" + digits,
			"tel:" + digits,
			"TEL:00" + digits,
			"whatsapp:0" + digits,
			"whatsapp:+" + digits,
			"tel:+" + strings.Join(strings.SplitAfter(digits, "1"), " ") + "#Ana",
			"tel:(" + digits[:len(digits)/2] + ")-" + digits[len(digits)/2:],
		} {
			got, err := identity.Key(spelling)
			if wantErr != nil {
				require.Error(t, err, "whatsapp:%s is refused but %s is not", digits, spelling)
				continue
			}
			require.NoError(t, err, "whatsapp:%s is keyed but %s is not", digits, spelling)
			require.Equal(t, want, got, "key of %s", spelling)
		}
	})
}
