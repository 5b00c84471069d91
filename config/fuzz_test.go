package config_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/keywords"
)

// FuzzParse feeds configuration documents to Parse: it must never panic, and what it accepts must be a document
// that reads back to the same configuration, as the service stores and reloads workspaces' documents.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"default_language": "eng", "languages": ["eng", "fra"], "replies": {"opt_out": {"texts": {"fra": "Au revoir"}}, "opt_in": {"enabled": false}}}`,
		`{"keywords": {"opt_out": {"add": {"por": ["chega", "  CHEGA! "], "any": ["#sair"]}, "remove": {"eng": ["exit"]}}}}`,
		`{"keywords": {"opt_in": {"add": {"eng": ["stop"]}}}}`,
		`{"group": "Não \"Perturbe\"", "allowed_categories": [], "templates": {"a": "utility", "b": "MARKETING"}}`,
		`{"allowed_categories": ["OTP", "nope"]}`,
		`{"languages": ["por", "por"], "default_language": "xx"}`,
		`{"replies": {"opt_out": {"texts": {"por": ""}}}}`,
		`[`, `null`, `{"group": 1}`, `{"keywords": {"opt_out": {"add": {"eng": ["\u0000"]}}}}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data)
		if err != nil {
			assert.NotEmpty(t, err.Error())
			return
		}
		require.NotNil(t, cfg.Keywords)

		doc := &config.Document{}
		require.NoError(t, json.Unmarshal(data, doc))
		stored, err := json.Marshal(doc)
		require.NoError(t, err)
		again, err := config.Parse(stored)
		require.NoError(t, err, "reading back %s", stored)

		assert.Equal(t, cfg.Group, again.Group)
		assert.Equal(t, cfg.AllowedCategories, again.AllowedCategories)
		assert.Equal(t, cfg.Keywords.Languages(), again.Keywords.Languages())
		for _, intent := range []keywords.Intent{keywords.OptOut, keywords.OptIn} {
			assert.Equal(t, cfg.Keywords.Keywords(intent), again.Keywords.Keywords(intent))
			for _, lang := range cfg.Keywords.Languages() {
				text, ok := cfg.Reply(intent, lang)
				textAgain, okAgain := again.Reply(intent, lang)
				assert.Equal(t, ok, okAgain)
				assert.Equal(t, text, textAgain)
				if ok {
					assert.NotEmpty(t, text, "an enabled reply has a text in every language")
				}
			}
		}
	})
}
