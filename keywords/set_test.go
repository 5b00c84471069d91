package keywords_test

import (
	"testing"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/optout-dev/optout/keywords"
	"github.com/stretchr/testify/assert"
)

func TestDefaults(t *testing.T) {
	assert.Equal(t, keywords.Set{
		keywords.OptOut: keywords.Words{
			"por":                {"parar", "sair"},
			"spa":                {"detener", "salir"},
			"eng":                {"stop", "exit"},
			keywords.AnyLanguage: {"#optout"},
		},
		keywords.OptIn: keywords.Words{
			"por": {"#voltar", "#receber"},
			"spa": {"#volver", "#recibir"},
			"eng": {"#start"},
		},
	}, keywords.Defaults())

	// every call is a fresh copy, down to the slices
	set := keywords.Defaults()
	set[keywords.OptOut]["eng"][0] = "halt"
	set.Add(keywords.OptIn, "eng", "#go")
	delete(set, keywords.OptOut)

	assert.Equal(t, []string{"stop", "exit"}, keywords.Defaults()[keywords.OptOut]["eng"])
	assert.Equal(t, []string{"#start"}, keywords.Defaults()[keywords.OptIn]["eng"])
}

func TestSetAdd(t *testing.T) {
	set := keywords.Set{}
	set.Add(keywords.OptOut, "eng", "stop", "halt")
	set.Add(keywords.OptOut, "eng", "quit")
	set.Add(keywords.OptOut, keywords.AnyLanguage, "#optout")
	set.Add(keywords.OptIn, "spa", "#volver")

	assert.Equal(t, keywords.Set{
		keywords.OptOut: keywords.Words{"eng": {"stop", "halt", "quit"}, keywords.AnyLanguage: {"#optout"}},
		keywords.OptIn:  keywords.Words{"spa": {"#volver"}},
	}, set)
}

func TestSetRemove(t *testing.T) {
	tcs := []struct {
		intent   keywords.Intent
		lang     i18n.Language
		words    []string
		expected keywords.Words // opt-out words of the defaults afterwards
		err      string
	}{
		{
			intent:   keywords.OptOut,
			lang:     "eng",
			words:    []string{"exit"},
			expected: keywords.Words{"por": {"parar", "sair"}, "spa": {"detener", "salir"}, "eng": {"stop"}, "any": {"#optout"}},
		},
		{ // compared normalized
			intent:   keywords.OptOut,
			lang:     "por",
			words:    []string{" PARAR! "},
			expected: keywords.Words{"por": {"sair"}, "spa": {"detener", "salir"}, "eng": {"stop", "exit"}, "any": {"#optout"}},
		},
		{ // removing the last word of a language removes the language
			intent:   keywords.OptOut,
			lang:     "spa",
			words:    []string{"salir", "Detener"},
			expected: keywords.Words{"por": {"parar", "sair"}, "eng": {"stop", "exit"}, "any": {"#optout"}},
		},
		{
			intent:   keywords.OptOut,
			lang:     "any",
			words:    []string{"#OPTOUT"},
			expected: keywords.Words{"por": {"parar", "sair"}, "spa": {"detener", "salir"}, "eng": {"stop", "exit"}},
		},
		{ // a typo removes nothing, not even the words before it
			intent:   keywords.OptOut,
			lang:     "eng",
			words:    []string{"exit", "stpo"},
			expected: keywords.Words{"por": {"parar", "sair"}, "spa": {"detener", "salir"}, "eng": {"stop", "exit"}, "any": {"#optout"}},
			err:      `keyword "stpo" is not configured for opt_out in "eng"`,
		},
		{ // a word of another language
			intent:   keywords.OptOut,
			lang:     "eng",
			words:    []string{"parar"},
			expected: keywords.Words{"por": {"parar", "sair"}, "spa": {"detener", "salir"}, "eng": {"stop", "exit"}, "any": {"#optout"}},
			err:      `keyword "parar" is not configured for opt_out in "eng"`,
		},
		{ // a word of another intent
			intent:   keywords.OptIn,
			lang:     "eng",
			words:    []string{"stop"},
			expected: keywords.Words{"por": {"parar", "sair"}, "spa": {"detener", "salir"}, "eng": {"stop", "exit"}, "any": {"#optout"}},
			err:      `keyword "stop" is not configured for opt_in in "eng"`,
		},
		{ // a word of any language isn't one of each language
			intent:   keywords.OptOut,
			lang:     "por",
			words:    []string{"#optout"},
			expected: keywords.Words{"por": {"parar", "sair"}, "spa": {"detener", "salir"}, "eng": {"stop", "exit"}, "any": {"#optout"}},
			err:      `keyword "#optout" is not configured for opt_out in "por"`,
		},
		{ // opt-in words keep their '#'
			intent:   keywords.OptIn,
			lang:     "por",
			words:    []string{"voltar"},
			expected: keywords.Words{"por": {"parar", "sair"}, "spa": {"detener", "salir"}, "eng": {"stop", "exit"}, "any": {"#optout"}},
			err:      `keyword "voltar" is not configured for opt_in in "por"`,
		},
		{
			intent:   keywords.OptOut,
			lang:     "fra",
			words:    []string{"arrêter"},
			expected: keywords.Words{"por": {"parar", "sair"}, "spa": {"detener", "salir"}, "eng": {"stop", "exit"}, "any": {"#optout"}},
			err:      `keyword "arrêter" is not configured for opt_out in "fra"`,
		},
	}

	for _, tc := range tcs {
		set := keywords.Defaults()
		err := set.Remove(tc.intent, tc.lang, tc.words...)

		if tc.err != "" {
			assert.EqualError(t, err, tc.err, "error mismatch removing %v from %s/%s", tc.words, tc.intent, tc.lang)
		} else {
			assert.NoError(t, err, "unexpected error removing %v from %s/%s", tc.words, tc.intent, tc.lang)
		}
		assert.Equal(t, tc.expected, set[keywords.OptOut], "opt-out words mismatch removing %v from %s/%s", tc.words, tc.intent, tc.lang)
	}
}

func TestSetRemoveAll(t *testing.T) {
	set := keywords.Set{}
	set.Add(keywords.OptIn, "eng", "#start", "#START", "#go")

	// every word with the same normalized form goes
	assert.NoError(t, set.Remove(keywords.OptIn, "eng", "#Start"))
	assert.Equal(t, keywords.Set{keywords.OptIn: keywords.Words{"eng": {"#go"}}}, set)

	assert.EqualError(t, set.Remove(keywords.OptOut, "eng", "stop"), `keyword "stop" is not configured for opt_out in "eng"`)
}
