package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/nyaruka/gocommon/i18n"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/keywords"
)

func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "[--config FILE] [--contact-lang LANG] TEXT...",
		"Checks each TEXT against the keyword catalog, as the interceptor would check a message, and prints one JSON\n"+
			"object per TEXT, one per line: its intent (opt_out, opt_in or none), the language of the match and the\n"+
			"normalized keyword.", stderr)
	configFile := fs.String("config", "", "workspace configuration `FILE` (defaults when not given)")
	contactLang := fs.String("contact-lang", "", "the contact's language `LANG` (ISO 639-3), which decides the language of words of several languages")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "optout check: no TEXT to check")
		fs.Usage()
		return errUsage
	}

	cfg, err := loadConfig(*configFile)
	if err != nil {
		return err
	}

	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for _, text := range fs.Args() {
		m := cfg.Keywords.Match(text, i18n.Language(*contactLang))
		if err := enc.Encode(checkResult{Text: text, Intent: m.Intent, Language: string(m.Language), Keyword: m.Keyword}); err != nil {
			return err
		}
	}
	return nil
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
