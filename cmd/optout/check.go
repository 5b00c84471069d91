package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/text/language"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/keywords"
)

func newCheckCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check [flags] TEXT...",
		Short: "Print the intent, language and keyword of each text",
		Long: "Checks each TEXT against the keyword catalog, as the interceptor would check a message, and prints one JSON\n" +
			"object per TEXT, one per line: its intent (opt_out, opt_in or none), the language of the match and the\n" +
			"normalized keyword.",
		Args: someArgs("no TEXT to check"),
	}
	configFile := cmd.Flags().String("config", "", "workspace configuration `FILE` (defaults when not given)")
	contactLang := languageFlag(cmd.Flags(), "contact-lang", "", "the contact's language `LANG` (ISO 639-3), which decides the language of words of several languages")

	cmd.RunE = func(cmd *cobra.Command, texts []string) error {
		cfg, err := loadConfig(*configFile)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetEscapeHTML(false)
		for _, text := range texts {
			m := cfg.Keywords.Match(text, *contactLang)
			if err := enc.Encode(checkResult{Text: text, Intent: m.Intent, Language: string(m.Language), Keyword: m.Keyword}); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}

type checkResult struct {
	Text     string          `json:"text"`
	Intent   keywords.Intent `json:"intent"`
	Language string          `json:"language"`
	Keyword  string          `json:"keyword"`
}

// loadConfig loads the configuration file, or returns the defaults when there is none.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default, nil
	}
	return config.Load(path)
}

// languageValue is a flag's ISO 639-3 language code, refusing what isn't one rather than matching no keyword's
// language. A code in capitals is taken in lower case, as goflow reads it.
type languageValue i18n.Language

var _ pflag.Value = (*languageValue)(nil)

func languageFlag(flags *pflag.FlagSet, name string, def i18n.Language, usage string) *i18n.Language {
	lang := def
	flags.Var((*languageValue)(&lang), name, usage)
	return &lang
}

func (l *languageValue) Set(s string) error {
	parsed, err := i18n.ParseLanguage(s)
	if err == nil {
		*l = languageValue(parsed)
		return nil
	}
	if base, err := language.ParseBase(s); err == nil && base.ISO3() != "" {
		return fmt.Errorf("is not an ISO 639-3 language code (did you mean %q?)", base.ISO3())
	}
	return errors.New("is not an ISO 639-3 language code")
}

func (l *languageValue) String() string { return string(*l) }
func (l *languageValue) Type() string   { return "language" }
