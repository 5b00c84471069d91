// Package config is a workspace's opt-out configuration: its keywords, its replies, the group that records
// opted-out contacts, and the template categories that still reach them. It is read from the JSON that people
// write (a configuration file, or the body of the workspace API) and compiled once into a Config that the actions,
// the router and the send decision read on every message.
package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/i18n"

	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/internal/sanitize"
	"github.com/optout-dev/optout/internal/strictjson"
	"github.com/optout-dev/optout/keywords"
)

// Limits on what a configuration may hold. A group name is limited as RapidPro limits it; a reply as WhatsApp
// limits a text message.
const (
	MaxGroupNameLength = 64
	MaxReplyLength     = 4096
)

// Document is a workspace's configuration as people write it. Everything is optional: what is left out takes the
// defaults, and keywords and replies say only what differs from them.
type Document struct {
	DefaultLanguage i18n.Language                       `json:"default_language,omitempty"`
	Languages       []i18n.Language                     `json:"languages,omitempty"`
	Keywords        map[keywords.Intent]*KeywordChanges `json:"keywords,omitempty"`
	Buttons         map[keywords.Intent]*KeywordChanges `json:"buttons,omitempty"` // labels and payloads of buttons
	Replies         map[keywords.Intent]*ReplySettings  `json:"replies,omitempty"`
	Group           string                              `json:"group,omitempty"`

	// null takes the defaults, while an empty list blocks every template to opted-out contacts, so this one is
	// never omitted
	AllowedCategories []string `json:"allowed_categories"`

	// Templates gives the category of each template by name, for messages that name a template without one.
	Templates map[string]string `json:"templates,omitempty"`

	// Where and how the workspace's flows run: see Environment.
	Timezone        string `json:"timezone,omitempty"`
	DateFormat      string `json:"date_format,omitempty"`
	TimeFormat      string `json:"time_format,omitempty"`
	Country         string `json:"country,omitempty"`
	RedactionPolicy string `json:"redaction_policy,omitempty"`

	// MarketingOptIn also keeps the contact field marketing_opt_in, false when the contact opts out and true when it
	// opts back in: Weni's mailroom refuses MARKETING templates to a contact whose marketing_opt_in is false.
	MarketingOptIn bool `json:"marketing_opt_in,omitempty"`
}

// KeywordChanges adds words to and removes words from the defaults of one intent, per language ("any" for words
// of every language).
type KeywordChanges struct {
	Add    keywords.Words `json:"add,omitempty"`
	Remove keywords.Words `json:"remove,omitempty"`
}

// ReplySettings turns the reply of one intent on or off and overrides its text per language.
type ReplySettings struct {
	Enabled *bool                    `json:"enabled,omitempty"`
	Texts   map[i18n.Language]string `json:"texts,omitempty"`
}

// Config is a compiled configuration.
type Config struct {
	Keywords          *keywords.Catalog
	Group             string
	AllowedCategories []Category
	MarketingOptIn    bool
	Environment       Environment

	replies   map[keywords.Intent]map[i18n.Language]string // nil for a disabled reply
	templates map[string]Category
}

// Default is the configuration of a workspace that configures nothing.
var Default = mustCompile(&Document{})

// Reply returns the reply to send for the intent in the language, and false when that reply is disabled.
func (c *Config) Reply(intent keywords.Intent, lang i18n.Language) (string, bool) {
	text, ok := c.replies[intent][lang]
	return text, ok
}

// Allows returns whether templates of the category may still be sent to opted-out contacts.
func (c *Config) Allows(cat Category) bool {
	return slices.Contains(c.AllowedCategories, cat)
}

// TemplateCategory returns the category configured for the named template.
func (c *Config) TemplateCategory(name string) (Category, bool) {
	cat, ok := c.templates[name]
	return cat, ok
}

// Parse reads and compiles a configuration document.
func Parse(data []byte) (*Config, error) {
	doc := &Document{}
	if err := strictjson.Unmarshal(data, doc); err != nil {
		return nil, err
	}
	return doc.Compile()
}

// Load reads and compiles the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Compile checks the document and merges it with the defaults. The error lists every problem found, each naming
// its field, so that one round of fixes is enough.
func (d *Document) Compile() (*Config, error) {
	var p problems

	langs, defaultLang := d.compileLanguages(&p)
	langsOK := len(p) == 0
	cfg := &Config{
		Group:             d.compileGroup(&p),
		AllowedCategories: d.compileAllowedCategories(&p),
		replies:           d.compileReplies(&p, langs),
		templates:         d.compileTemplates(&p),
		MarketingOptIn:    d.MarketingOptIn,
		Environment:       d.compileEnvironment(&p),
	}

	// the catalog would only repeat what is wrong with the languages
	set := d.keywordSet(&p, langs)
	if langsOK {
		if catalog, err := keywords.New(set, langs, defaultLang); err != nil {
			p.add("keywords", "%s", err)
		} else {
			cfg.Keywords = catalog
		}
	}

	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (d *Document) compileLanguages(p *problems) ([]i18n.Language, i18n.Language) {
	langs := DefaultLanguages
	if len(d.Languages) > 0 {
		langs = make([]i18n.Language, 0, len(d.Languages))
		for i, l := range d.Languages {
			field := fmt.Sprintf("languages[%d]", i)
			if err := checkLanguage(l); err != nil {
				p.add(field, "%s", err)
			} else if slices.Contains(langs, l) {
				p.add(field, "%s is listed twice", l)
			} else {
				langs = append(langs, l)
			}
		}
	}

	defaultLang := DefaultLanguage
	if d.DefaultLanguage != "" {
		defaultLang = d.DefaultLanguage
		if err := checkLanguage(defaultLang); err != nil {
			p.add("default_language", "%s", err)
		}
	}
	if !slices.Contains(langs, defaultLang) {
		p.add("default_language", "%s is not one of the languages %v", defaultLang, langs)
	}
	return langs, defaultLang
}

// keywordSet applies the document's changes to the defaults. Buttons are keywords too: a host that keeps only a
// button's text, as courier does, gives the interceptor the label, and one that reads the payload gives that.
func (d *Document) keywordSet(p *problems, langs []i18n.Language) keywords.Set {
	set := keywords.Set{}
	addDefaults(set, keywords.Defaults(), langs)
	addDefaults(set, DefaultButtons, langs)
	applyChanges(p, set, "keywords", d.Keywords, langs)
	applyChanges(p, set, "buttons", d.Buttons, langs)
	return set
}

// addDefaults adds default words to the set. Those of languages the workspace doesn't speak are left out rather than
// refused, so that a workspace can list only the languages it serves.
func addDefaults(set, defaults keywords.Set, langs []i18n.Language) {
	for intent, words := range defaults {
		for lang, ws := range words {
			if lang == keywords.AnyLanguage || slices.Contains(langs, lang) {
				set.Add(intent, lang, ws...)
			}
		}
	}
}

// applyChanges applies one key's changes (keywords or buttons) to the set, naming that key in its problems.
func applyChanges(p *problems, set keywords.Set, key string, all map[keywords.Intent]*KeywordChanges, langs []i18n.Language) {
	for _, intent := range sortedKeys(all) {
		changes := all[intent]
		field := key + "." + string(intent)
		if !checkIntent(p, field, intent) || changes == nil {
			continue
		}
		for _, lang := range sortedKeys(changes.Remove) {
			if checkKeywordLanguage(p, field+".remove."+string(lang), lang, langs) {
				if err := set.Remove(intent, lang, changes.Remove[lang]...); err != nil {
					p.add(field+".remove."+string(lang), "%s", err)
				}
			}
		}
		for _, lang := range sortedKeys(changes.Add) {
			if checkKeywordLanguage(p, field+".add."+string(lang), lang, langs) {
				for _, w := range changes.Add[lang] {
					if err := sanitize.Check(w); err != nil {
						p.add(field+".add."+string(lang), "%s %s", quote.Q(w), err)
					}
				}
				set.Add(intent, lang, changes.Add[lang]...)
			}
		}
	}
}

func (d *Document) compileReplies(p *problems, langs []i18n.Language) map[keywords.Intent]map[i18n.Language]string {
	for _, intent := range sortedKeys(d.Replies) {
		checkIntent(p, "replies."+string(intent), intent)
	}

	replies := make(map[keywords.Intent]map[i18n.Language]string, 2)
	for _, intent := range []keywords.Intent{keywords.OptOut, keywords.OptIn} {
		settings := d.Replies[intent]
		if settings == nil {
			settings = &ReplySettings{}
		}
		field := "replies." + string(intent)

		texts := make(map[i18n.Language]string, len(langs))
		for lang, text := range DefaultReplies[intent] {
			if slices.Contains(langs, lang) {
				texts[lang] = text
			}
		}
		for _, lang := range sortedKeys(settings.Texts) {
			text := strings.TrimSpace(settings.Texts[lang])
			textField := field + ".texts." + string(lang)
			switch {
			case !slices.Contains(langs, lang):
				p.add(textField, "%s is not one of the languages %v", lang, langs)
			case text == "":
				p.add(textField, "is empty")
			case utf8.RuneCountInString(text) > MaxReplyLength:
				p.add(textField, "is longer than %d characters", MaxReplyLength)
			case sanitize.Check(text) != nil:
				p.add(textField, "%s", sanitize.Check(text))
			default:
				texts[lang] = text
			}
		}

		if settings.Enabled != nil && !*settings.Enabled {
			continue
		}
		for _, lang := range langs {
			if texts[lang] == "" {
				p.add(field+".texts", "no text for %s: add one or disable the reply", lang)
			}
		}
		replies[intent] = texts
	}
	return replies
}

func (d *Document) compileGroup(p *problems) string {
	if d.Group == "" {
		return DefaultGroup
	}
	name := strings.TrimSpace(d.Group)
	switch {
	case name == "":
		p.add("group", "is blank")
	case utf8.RuneCountInString(name) > MaxGroupNameLength:
		p.add("group", "is longer than %d characters", MaxGroupNameLength)
	case sanitize.Check(name) != nil:
		p.add("group", "%s", sanitize.Check(name))
	}
	return name
}

func (d *Document) compileAllowedCategories(p *problems) []Category {
	if d.AllowedCategories == nil {
		return DefaultAllowedCategories
	}
	cats := make([]Category, 0, len(d.AllowedCategories))
	for i, s := range d.AllowedCategories {
		cat, err := ParseCategory(s)
		if err != nil {
			p.add(fmt.Sprintf("allowed_categories[%d]", i), "%s", err)
		} else if !slices.Contains(cats, cat) {
			cats = append(cats, cat)
		}
	}
	return cats
}

func (d *Document) compileTemplates(p *problems) map[string]Category {
	templates := make(map[string]Category, len(d.Templates))
	for _, name := range sortedKeys(d.Templates) {
		if strings.TrimSpace(name) == "" {
			p.add("templates", "a template name is blank")
			continue
		}
		if err := sanitize.Check(name); err != nil {
			p.add("templates", "the template name %s %s", quote.Q(name), err)
			continue
		}
		cat, err := ParseCategory(d.Templates[name])
		if err != nil {
			p.add("templates."+name, "%s", err)
			continue
		}
		templates[name] = cat
	}
	return templates
}

func checkLanguage(l i18n.Language) error {
	parsed, err := i18n.ParseLanguage(string(l))
	if err != nil {
		return fmt.Errorf("%s is not an ISO 639-3 language code", quote.Q(string(l)))
	}
	if parsed != l {
		return fmt.Errorf("%s is not an ISO 639-3 language code (did you mean %q?)", quote.Q(string(l)), parsed)
	}
	return nil
}

func checkIntent(p *problems, field string, intent keywords.Intent) bool {
	if intent != keywords.OptOut && intent != keywords.OptIn {
		p.add(field, "unknown intent (want opt_out or opt_in)")
		return false
	}
	return true
}

func checkKeywordLanguage(p *problems, field string, lang i18n.Language, langs []i18n.Language) bool {
	if lang != keywords.AnyLanguage && !slices.Contains(langs, lang) {
		p.add(field, "%s is not one of the languages %v (or any)", lang, langs)
		return false
	}
	return true
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// problems collects what is wrong with a document.
type problems []string

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, field+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

func mustCompile(d *Document) *Config {
	cfg, err := d.Compile()
	if err != nil {
		panic(err)
	}
	return cfg
}

// InEffect returns the document with what it leaves to the defaults filled in from c, its compiled configuration:
// the configuration in effect, which reads the same compiled again. Keywords stay the changes the document makes,
// as that is what a document says of them.
func (d *Document) InEffect(c *Config) Document {
	e := *d
	e.DefaultLanguage = c.Keywords.DefaultLanguage()
	e.Languages = c.Keywords.Languages()
	e.Group = c.Group
	e.AllowedCategories = make([]string, len(c.AllowedCategories))
	for i, cat := range c.AllowedCategories {
		e.AllowedCategories[i] = string(cat)
	}
	e.Templates = make(map[string]string, len(c.templates))
	for name, cat := range c.templates {
		e.Templates[name] = string(cat)
	}
	e.Replies = make(map[keywords.Intent]*ReplySettings, 2)
	for _, intent := range []keywords.Intent{keywords.OptOut, keywords.OptIn} {
		texts, enabled := c.replies[intent], c.replies[intent] != nil
		if !enabled && d.Replies[intent] != nil {
			texts = d.Replies[intent].Texts
		}
		e.Replies[intent] = &ReplySettings{Enabled: &enabled, Texts: maps.Clone(texts)}
	}
	env := c.Environment
	e.Timezone, e.DateFormat, e.TimeFormat = env.Timezone.String(), string(env.DateFormat), string(env.TimeFormat)
	e.Country, e.RedactionPolicy = string(env.Country), string(env.RedactionPolicy)
	return e
}
