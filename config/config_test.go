package config_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/goflow/envs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/keywords"
)

func TestDefault(t *testing.T) {
	cfg := config.Default

	assert.Equal(t, "Opted Out", cfg.Group)
	assert.Equal(t, []config.Category{config.CustomerService, config.OTP}, cfg.AllowedCategories)
	assert.Equal(t, i18n.Language("por"), cfg.Keywords.DefaultLanguage())
	assert.Equal(t, []i18n.Language{"por", "spa", "eng"}, cfg.Keywords.Languages())

	for intent, texts := range config.DefaultReplies {
		for lang, text := range texts {
			actual, ok := cfg.Reply(intent, lang)
			assert.True(t, ok)
			assert.Equal(t, text, actual)
		}
	}
	_, ok := cfg.Reply(keywords.OptOut, "fra")
	assert.False(t, ok)

	assert.True(t, cfg.Allows(config.OTP))
	assert.False(t, cfg.Allows(config.Marketing))
	_, ok = cfg.TemplateCategory("anything")
	assert.False(t, ok)
}

func TestParse(t *testing.T) {
	cfg, err := config.Parse([]byte(`{
		"default_language": "eng",
		"languages": ["eng", "fra"],
		"keywords": {
			"opt_out": {"add": {"fra": ["arrêter"], "any": ["#quit"]}, "remove": {"eng": ["exit"]}},
			"opt_in": {"add": {"fra": ["#revenir"]}}
		},
		"replies": {
			"opt_out": {"texts": {"fra": "Vous ne recevrez plus de messages."}},
			"opt_in": {"enabled": false}
		},
		"group": "Não Perturbe \"VIP\"",
		"allowed_categories": ["utility"],
		"templates": {"order_update": "UTILITY", "promo": "marketing"}
	}`))
	require.NoError(t, err)

	assert.Equal(t, i18n.Language("eng"), cfg.Keywords.DefaultLanguage())
	assert.Equal(t, "Não Perturbe \"VIP\"", cfg.Group)
	assert.Equal(t, []config.Category{config.CustomerService}, cfg.AllowedCategories)

	// default words of languages the workspace doesn't speak are left out
	assert.Equal(t, keywords.Match{Intent: keywords.None}, cfg.Keywords.Match("parar", "eng"))
	assert.Equal(t, keywords.Match{Intent: keywords.None}, cfg.Keywords.Match("exit", "eng"))
	assert.Equal(t, keywords.Match{Intent: keywords.OptOut, Keyword: "stop", Language: "eng"}, cfg.Keywords.Match("STOP", "eng"))
	assert.Equal(t, keywords.Match{Intent: keywords.OptOut, Keyword: "arrêter", Language: "fra"}, cfg.Keywords.Match("Arrêter !", "eng"))
	assert.Equal(t, keywords.Match{Intent: keywords.OptOut, Keyword: "#quit", Language: "fra"}, cfg.Keywords.Match("#quit", "fra"))
	assert.Equal(t, keywords.Match{Intent: keywords.OptIn, Keyword: "#revenir", Language: "fra"}, cfg.Keywords.Match("#revenir", "eng"))

	text, ok := cfg.Reply(keywords.OptOut, "fra")
	assert.True(t, ok)
	assert.Equal(t, "Vous ne recevrez plus de messages.", text)
	text, ok = cfg.Reply(keywords.OptOut, "eng")
	assert.True(t, ok)
	assert.Equal(t, config.DefaultReplies[keywords.OptOut]["eng"], text)
	_, ok = cfg.Reply(keywords.OptIn, "eng")
	assert.False(t, ok, "disabled reply")

	cat, ok := cfg.TemplateCategory("order_update")
	assert.True(t, ok)
	assert.Equal(t, config.CustomerService, cat)
	cat, _ = cfg.TemplateCategory("promo")
	assert.Equal(t, config.Marketing, cat)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		input string
		err   string
	}{
		{`{"group": 5}`, "group: must be a string, not number"},
		{`{"grup": "x"}`, `unknown field "grup"`},
		{`{"default_language": "fra"}`, "default_language: fra is not one of the languages [por spa eng]"},
		{`{"default_language": "xx"}`, `default_language: "xx" is not an ISO 639-3 language code; default_language: xx is not one of the languages [por spa eng]`},
		{`{"languages": ["por", "pt", "por"]}`, `languages[1]: "pt" is not an ISO 639-3 language code; languages[2]: por is listed twice`},
		{`{"keywords": {"opt_out": {"add": {"eng": ["#start"]}}}}`, `keywords: keyword "#start" is configured for both opt_out and opt_in`},
		{`{"keywords": {"opt_out": {"add": {"eng": ["  !!  "]}}}}`, `keywords: keyword "  !!  " is empty once normalized`},
		{`{"keywords": {"opt_out": {"add": {"fra": ["arrêter"]}}}}`, "keywords.opt_out.add.fra: fra is not one of the languages [por spa eng] (or any)"},
		{`{"keywords": {"opt_out": {"remove": {"eng": ["quit"]}}}}`, `keywords.opt_out.remove.eng: keyword "quit" is not configured for opt_out in "eng"`},
		{`{"keywords": {"opt_outt": {"add": {"eng": ["quit"]}}}}`, "keywords.opt_outt: unknown intent (want opt_out or opt_in)"},
		{`{"replies": {"opt_in": {"texts": {"por": "  "}}}}`, "replies.opt_in.texts.por: is empty"},
		{`{"replies": {"opt_in": {"texts": {"deu": "Willkommen"}}}}`, "replies.opt_in.texts.deu: deu is not one of the languages [por spa eng]"},
		{`{"languages": ["por", "fra"]}`, "replies.opt_out.texts: no text for fra: add one or disable the reply; replies.opt_in.texts: no text for fra: add one or disable the reply"},
		{`{"replies": {"opt_in": {"enabled": "no"}}}`, "replies.enabled: must be true or false, not string"},
		{`{"group": "   "}`, "group: is blank"},
		{`{"allowed_categories": ["OTP", "PROMO"]}`, `allowed_categories[1]: unknown category "PROMO" (want CUST_SERVICE or UTILITY, OTP or AUTHENTICATION, MARKETING)`},
		{`{"templates": {"welcome": ""}}`, "templates.welcome: category is empty"},
		{`{"timezone": "Brazil/Sao Paulo"}`, `timezone: "Brazil/Sao Paulo" is not an IANA time zone name such as America/Sao_Paulo`},
		{`{"timezone": "Local"}`, `timezone: "Local" is not an IANA time zone name such as America/Sao_Paulo`},
		{`{"date_format": "DD/MM/YYYY"}`, `date_format: "DD/MM/YYYY" is not one of [DD-MM-YYYY MM-DD-YYYY YYYY-MM-DD]`},
		{`{"time_format": "HH:mm"}`, `time_format: "HH:mm" is not one of [tt:mm h:mm aa tt:mm:ss h:mm:ss aa]`},
		{`{"country": "Brazil"}`, `country: "Brazil" is not an ISO 3166-1 alpha-2 country code such as BR`},
		{`{"country": "ZZ"}`, `country: "ZZ" is not an ISO 3166-1 alpha-2 country code such as BR`},
		{`{"redaction_policy": "all"}`, `redaction_policy: "all" is not one of [none urns]`},
	}
	for _, tc := range tests {
		_, err := config.Parse([]byte(tc.input))
		assert.EqualError(t, err, tc.err, "input %s", tc.input)
	}
}

func TestLoad(t *testing.T) {
	cfg, err := config.Load("../fixtures/config.json")
	require.NoError(t, err)
	assert.Equal(t, keywords.OptOut, cfg.Keywords.Match("Cancelar", "por").Intent)

	dir := t.TempDir()
	path := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"group": ""}  {`), 0o600))
	_, err = config.Load(path)
	assert.EqualError(t, err, path+": unexpected data after the JSON value")

	_, err = config.Load(filepath.Join(dir, "missing.json"))
	assert.ErrorContains(t, err, "no such file or directory")
}

func TestParseCategory(t *testing.T) {
	for in, want := range map[string]config.Category{
		"CUST_SERVICE": config.CustomerService, "utility": config.CustomerService, " OTP ": config.OTP,
		"Authentication": config.OTP, "MARKETING": config.Marketing,
	} {
		got, err := config.ParseCategory(in)
		assert.NoError(t, err)
		assert.Equal(t, want, got, in)
	}
}

func TestEnvironment(t *testing.T) {
	env := config.Default.Environment
	assert.Equal(t, time.UTC, env.Timezone)
	assert.Equal(t, envs.DateFormatYearMonthDay, env.DateFormat)
	assert.Equal(t, envs.TimeFormatHourMinute, env.TimeFormat)
	assert.Equal(t, i18n.NilCountry, env.Country)
	assert.Equal(t, envs.RedactionPolicyNone, env.RedactionPolicy)

	cfg, err := config.Parse([]byte(`{"timezone": "America/Sao_Paulo", "date_format": "DD-MM-YYYY", "time_format": "h:mm aa", "country": "br", "redaction_policy": "urns"}`))
	require.NoError(t, err)
	env = cfg.Environment
	assert.Equal(t, "America/Sao_Paulo", env.Timezone.String())
	assert.Equal(t, envs.DateFormatDayMonthYear, env.DateFormat)
	assert.Equal(t, envs.TimeFormatHourMinuteAmPm, env.TimeFormat)
	assert.Equal(t, i18n.Country("BR"), env.Country)
	assert.Equal(t, envs.RedactionPolicyURNs, env.RedactionPolicy)
}

// The configuration in effect fills in every default, and compiles to the same configuration.
func TestInEffect(t *testing.T) {
	for _, input := range []string{`{}`, `{"default_language": "spa", "languages": ["spa", "eng"], "group": "Fora", "allowed_categories": [],
		"templates": {"promo": "marketing"}, "replies": {"opt_in": {"enabled": false}}, "timezone": "America/Sao_Paulo", "country": "BR",
		"keywords": {"opt_out": {"add": {"spa": ["baja"]}}}}`} {
		doc := &config.Document{}
		require.NoError(t, json.Unmarshal([]byte(input), doc))
		cfg, err := doc.Compile()
		require.NoError(t, err)
		effective := doc.InEffect(cfg)

		again, err := effective.Compile()
		require.NoError(t, err, input)
		assert.Equal(t, effective, effective.InEffect(again), input)
		assert.NotEmpty(t, effective.DefaultLanguage)
		assert.NotEmpty(t, effective.Languages)
		assert.NotEmpty(t, effective.Group)
		assert.NotNil(t, effective.AllowedCategories)
		assert.Len(t, effective.Replies, 2)
		assert.NotEmpty(t, effective.Timezone)
		assert.Equal(t, cfg.Keywords.Match("baja", "spa"), again.Keywords.Match("baja", "spa"))
	}

	doc := &config.Document{}
	cfg, err := doc.Compile()
	require.NoError(t, err)
	data, err := json.Marshal(doc.InEffect(cfg))
	require.NoError(t, err)
	assert.JSONEq(t, `{"default_language": "por", "languages": ["por", "spa", "eng"], "group": "Opted Out",
		"allowed_categories": ["CUST_SERVICE", "OTP"], "timezone": "UTC", "date_format": "YYYY-MM-DD", "time_format": "tt:mm",
		"redaction_policy": "none", "replies": {
		"opt_out": {"enabled": true, "texts": {"por": "Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!",
			"spa": "Tu solicitud de abandonar la conversación se cumplió. ¡Envíe #volver para regresar!",
			"eng": "Your request to leave the conversation has been fulfilled. Please send #start to come back!"}},
		"opt_in": {"enabled": true, "texts": {"por": "Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!",
			"spa": "Se ha concedido su solicitud para volver a la conversación! Bienvenido de nuevo!",
			"eng": "Your request to return to the conversation has been fulfilled! Welcome back!"}}}}`, string(data))
}
