package keywords

import (
	"fmt"

	"github.com/nyaruka/gocommon/i18n"
)

// Intent is what a contact means by sending a keyword.
type Intent string

// The intents a message can have.
const (
	None   Intent = "none"
	OptOut Intent = "opt_out"
	OptIn  Intent = "opt_in"
)

// intents are the intents a keyword can have, in the order they are checked when building a catalog, so that
// errors come out the same way every time.
var intents = []Intent{OptOut, OptIn}

// AnyLanguage is the language key of words that belong to every language of the workspace.
const AnyLanguage i18n.Language = "any"

// Words lists keywords per language for one intent.
type Words map[i18n.Language][]string

// Set lists keywords per intent. It is the configuration a Catalog is built from, so its words are as they were
// written, not normalized.
type Set map[Intent]Words

// Defaults returns the default keywords. It is a fresh copy on every call, so callers can change it.
func Defaults() Set {
	return Set{
		OptOut: Words{
			"por":       {"parar", "sair"},
			"spa":       {"detener", "salir"},
			"eng":       {"stop", "exit"},
			AnyLanguage: {"#optout"},
		},
		OptIn: Words{
			"por": {"#voltar", "#receber"},
			"spa": {"#volver", "#recibir"},
			"eng": {"#start"},
		},
	}
}

// Add configures words for intent in lang. Words are checked when the catalog is built, not here.
func (s Set) Add(intent Intent, lang i18n.Language, words ...string) {
	if s[intent] == nil {
		s[intent] = Words{}
	}
	s[intent][lang] = append(s[intent][lang], words...)
}

// Remove removes words from intent in lang, comparing normalized forms so that "STOP" removes "stop". A word that
// is not there is an error, as it is most likely a typo in the configuration, and then nothing is removed.
func (s Set) Remove(intent Intent, lang i18n.Language, words ...string) error {
	configured := make(map[string]bool, len(s[intent][lang]))
	for _, w := range s[intent][lang] {
		configured[Normalize(w)] = true
	}

	remove := make(map[string]bool, len(words))
	for _, w := range words {
		k := Normalize(w)
		if !configured[k] {
			return fmt.Errorf("keyword %q is not configured for %s in %q", w, intent, lang)
		}
		remove[k] = true
	}

	var kept []string
	for _, w := range s[intent][lang] {
		if !remove[Normalize(w)] {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		delete(s[intent], lang)
	} else {
		s[intent][lang] = kept
	}
	return nil
}
