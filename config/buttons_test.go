package config_test

import (
	"testing"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/keywords"
)

// Meta's marketing opt-out button opts out in the workspace's languages, and a business adds its own buttons'
// labels and payloads, or takes the defaults away, as it does keywords.
func TestButtons(t *testing.T) {
	for text, lang := range map[string]i18n.Language{"Parar promoções": "por", "DETENER PROMOCIONES": "spa", "Stop promotions": "eng"} {
		m := config.Default.Keywords.Match(text, "")
		assert.Equal(t, keywords.OptOut, m.Intent, text)
		assert.Equal(t, lang, m.Language, text)
	}

	cfg, err := config.Parse([]byte(`{"languages": ["por"], "buttons": {
		"opt_in": {"add": {"any": ["RESUME_OFFERS"], "por": ["Quero receber ofertas"]}},
		"opt_out": {"remove": {"por": ["parar promoções"]}}}}`))
	require.NoError(t, err)
	assert.Equal(t, keywords.OptIn, cfg.Keywords.Match("resume_offers", "").Intent)
	assert.Equal(t, keywords.OptIn, cfg.Keywords.Match("Quero receber ofertas", "").Intent)
	assert.Equal(t, keywords.None, cfg.Keywords.Match("Parar promoções", "").Intent, "removed")
	assert.Equal(t, keywords.None, cfg.Keywords.Match("Stop promotions", "").Intent, "not a language of the workspace")

	for input, want := range map[string]string{
		`{"buttons": {"opt_out": {"add": {"fra": ["Arrêter"]}}}}`:        "buttons.opt_out.add.fra: fra is not one of the languages [por spa eng] (or any)",
		`{"buttons": {"opt_out": {"remove": {"eng": ["Unsubscribe"]}}}}`: `buttons.opt_out.remove.eng: keyword "Unsubscribe" is not configured for opt_out in "eng"`,
		`{"buttons": {"opt_in": {"add": {"por": ["Parar promoções"]}}}}`: `is configured for both opt_out and opt_in`,
		`{"buttons": {"opt_outs": {"add": {"por": ["Chega"]}}}}`:         "buttons.opt_outs: unknown intent (want opt_out or opt_in)",
	} {
		_, err := config.Parse([]byte(input))
		assert.ErrorContains(t, err, want, input)
	}
}
