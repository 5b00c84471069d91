package keywords

import (
	"fmt"
	"maps"
	"slices"

	"github.com/nyaruka/gocommon/i18n"
	"golang.org/x/text/unicode/norm"
)

// Match is the result of matching a message against a catalog.
type Match struct {
	Intent   Intent        // None when nothing matched
	Keyword  string        // the normalized keyword in NFC, "" when nothing matched
	Language i18n.Language // "" when nothing matched
}

// Catalog is the set of keywords of a workspace, normalized and checked. It is safe for concurrent use.
type Catalog struct {
	languages       []i18n.Language
	defaultLanguage i18n.Language
	entries         map[string]*entry
	keywords        map[Intent]Words // normalized and sorted, for listings
	longest         int              // length of the longest keyword, beyond which a message can't match

	// keys are the normalized keywords sorted, which Match narrows down to those that start with what it has
	// normalized so far, and sorted their entries, so that Match ends without hashing the message.
	keys   []string
	sorted []*entry
}

// entry is what a normalized keyword means.
type entry struct {
	intent    Intent
	keyword   string          // as reported: composed again, so that "não" reads as people and webhooks expect it
	languages []i18n.Language // all the workspace languages for a word of AnyLanguage
}

// Default is the catalog of the default keywords for a workspace in Portuguese, Spanish and English, with
// Portuguese as its default language.
var Default = newDefault()

func newDefault() *Catalog {
	c, err := New(Defaults(), []i18n.Language{"por", "spa", "eng"}, "por")
	if err != nil {
		panic(err) // the defaults are fixed, so this is a bug in this package
	}
	return c
}

// New builds the catalog of set for a workspace with the given languages, in which defaultLanguage is the language
// of a match that can't be told from the keyword and the contact. It returns an error, naming the word or
// language at fault, for a word configured for both intents, a word that is empty or longer than
// MaxKeywordBytes once normalized, a language that is neither AnyLanguage nor a workspace language, or a default
// language that is not a workspace language.
func New(set Set, languages []i18n.Language, defaultLanguage i18n.Language) (*Catalog, error) {
	for _, lang := range languages {
		if lang == "" || lang == AnyLanguage {
			return nil, fmt.Errorf("%q is not a valid workspace language", lang)
		}
	}
	if !slices.Contains(languages, defaultLanguage) {
		return nil, fmt.Errorf("default language %q is not one of the workspace languages %v", defaultLanguage, languages)
	}
	for _, intent := range slices.Sorted(maps.Keys(set)) {
		if !slices.Contains(intents, intent) {
			return nil, fmt.Errorf("keywords can't be configured for intent %q", intent)
		}
	}

	c := &Catalog{
		languages:       slices.Clone(languages),
		defaultLanguage: defaultLanguage,
		entries:         make(map[string]*entry),
		keywords:        make(map[Intent]Words, len(intents)),
	}

	for _, intent := range intents {
		words := make(Words, len(set[intent]))

		for _, lang := range slices.Sorted(maps.Keys(set[intent])) {
			if lang != AnyLanguage && !slices.Contains(languages, lang) {
				return nil, fmt.Errorf("language %q of %s keywords %q is neither %q nor one of the workspace languages %v", lang, intent, set[intent][lang], AnyLanguage, languages)
			}

			for _, w := range set[intent][lang] {
				k, err := c.add(intent, lang, w)
				if err != nil {
					return nil, err
				}
				words[lang] = append(words[lang], c.entries[k].keyword)
			}
			if words[lang] != nil {
				slices.Sort(words[lang])
				words[lang] = slices.Compact(words[lang])
			}
		}

		c.keywords[intent] = words
	}

	c.keys = slices.Sorted(maps.Keys(c.entries))
	for _, k := range c.keys {
		c.sorted = append(c.sorted, c.entries[k])
	}
	return c, nil
}

// add adds word for intent in lang, returning its normalized form.
func (c *Catalog) add(intent Intent, lang i18n.Language, word string) (string, error) {
	k := Normalize(word)
	if k == "" {
		return "", fmt.Errorf("keyword %q is empty once normalized", word)
	}
	if len(k) > MaxKeywordBytes {
		return "", fmt.Errorf("keyword %q is longer than %d bytes once normalized", word, MaxKeywordBytes)
	}

	e := c.entries[k]
	if e == nil {
		e = &entry{intent: intent, keyword: norm.NFC.String(k)}
		c.entries[k] = e
		c.longest = max(c.longest, len(k))
	} else if e.intent != intent {
		return "", fmt.Errorf("keyword %q is configured for both %s and %s", k, e.intent, intent)
	}

	langs := []i18n.Language{lang}
	if lang == AnyLanguage {
		langs = c.languages
	}
	for _, l := range langs {
		if !slices.Contains(e.languages, l) {
			e.languages = append(e.languages, l)
		}
	}
	return k, nil
}

// Match matches a whole message against the keywords, returning a Match with intent None if it isn't one. A
// keyword of a single language answers in that language. One of several languages, or of AnyLanguage, answers in
// the contact's language when that is one of them, and otherwise in the default language.
//
// Matching a message that isn't a keyword doesn't allocate, whatever the message.
func (c *Catalog) Match(text string, contactLanguage i18n.Language) Match {
	s := stream{limit: c.longest, keys: c.keys, hi: len(c.keys)}
	if !s.normalize(text) || !s.complete() {
		return Match{Intent: None}
	}

	e := c.sorted[s.lo]
	lang := c.defaultLanguage
	if len(e.languages) == 1 {
		lang = e.languages[0]
	} else if slices.Contains(e.languages, contactLanguage) {
		lang = contactLanguage
	}
	return Match{Intent: e.intent, Keyword: e.keyword, Language: lang}
}

// DefaultLanguage returns the default language of the workspace.
func (c *Catalog) DefaultLanguage() i18n.Language {
	return c.defaultLanguage
}

// Languages returns the languages of the workspace.
func (c *Catalog) Languages() []i18n.Language {
	return slices.Clone(c.languages)
}

// Keywords returns the normalized keywords of intent per language, sorted, for listings and docs. Words of
// AnyLanguage are listed under AnyLanguage.
func (c *Catalog) Keywords(intent Intent) Words {
	words := make(Words, len(c.keywords[intent]))
	for lang, ws := range c.keywords[intent] {
		words[lang] = slices.Clone(ws)
	}
	return words
}
