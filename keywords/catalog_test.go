package keywords_test

import (
	"os"
	"strings"
	"testing"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/optout-dev/optout/keywords"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var noMatch = keywords.Match{Intent: keywords.None}

func TestDefaultCatalog(t *testing.T) {
	assert.Equal(t, []i18n.Language{"por", "spa", "eng"}, keywords.Default.Languages())
	assert.Equal(t, i18n.Language("por"), keywords.Default.DefaultLanguage())

	// the languages are a copy
	keywords.Default.Languages()[0] = "fra"
	assert.Equal(t, []i18n.Language{"por", "spa", "eng"}, keywords.Default.Languages())
}

func TestMatchDefaults(t *testing.T) {
	tcs := []struct {
		text     string
		contact  i18n.Language
		expected keywords.Match
	}{
		// every default keyword, in several casings and punctuations
		{"parar", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"PARAR", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"  PARAR!!! ", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"Parar.", "eng", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"sair", "", keywords.Match{keywords.OptOut, "sair", "por"}},
		{"Sair!", "spa", keywords.Match{keywords.OptOut, "sair", "por"}},
		{"“SAIR”", "", keywords.Match{keywords.OptOut, "sair", "por"}},
		{"detener", "", keywords.Match{keywords.OptOut, "detener", "spa"}},
		{"¡Detener!", "", keywords.Match{keywords.OptOut, "detener", "spa"}},
		{"DETENER...", "por", keywords.Match{keywords.OptOut, "detener", "spa"}},
		{"salir", "", keywords.Match{keywords.OptOut, "salir", "spa"}},
		{"¡Salir!", "", keywords.Match{keywords.OptOut, "salir", "spa"}},
		{"SaLiR", "", keywords.Match{keywords.OptOut, "salir", "spa"}},
		{"stop", "", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"stop.", "", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"STOP", "por", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"ＳＴＯＰ", "", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"stop" + strings.Repeat("!", 200), "", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"\u00a0Stop\u00a0", "", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"exit", "", keywords.Match{keywords.OptOut, "exit", "eng"}},
		{"Exit?", "", keywords.Match{keywords.OptOut, "exit", "eng"}},
		{"#voltar", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},
		{"#VOLTAR", "spa", keywords.Match{keywords.OptIn, "#voltar", "por"}},
		{" #Voltar! ", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},
		{"#receber", "", keywords.Match{keywords.OptIn, "#receber", "por"}},
		{"#RECEBER.", "", keywords.Match{keywords.OptIn, "#receber", "por"}},
		{"#volver", "", keywords.Match{keywords.OptIn, "#volver", "spa"}},
		{"¡#Volver!", "", keywords.Match{keywords.OptIn, "#volver", "spa"}},
		{"#recibir", "", keywords.Match{keywords.OptIn, "#recibir", "spa"}},
		{"#Recibir", "eng", keywords.Match{keywords.OptIn, "#recibir", "spa"}},
		{"#start", "", keywords.Match{keywords.OptIn, "#start", "eng"}},
		{"#START!", "por", keywords.Match{keywords.OptIn, "#start", "eng"}},
		{"＃ｓｔａｒｔ", "", keywords.Match{keywords.OptIn, "#start", "eng"}},

		// as people type them on WhatsApp: emoji before or after
		{"Parar 🙏", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"🙏 parar", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"parar🙏🙏", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"👍🏽 SAIR 👍🏽", "", keywords.Match{keywords.OptOut, "sair", "por"}},   // skin tone
		{"sair 👨‍👩‍👧", "", keywords.Match{keywords.OptOut, "sair", "por"}},   // ZWJ sequence
		{"🇧🇷 Parar 🇧🇷", "", keywords.Match{keywords.OptOut, "parar", "por"}}, // flags
		{"stop 🏴󠁧󠁢󠁥󠁮󠁧󠁿", "", keywords.Match{keywords.OptOut, "stop", "eng"}}, // tag sequence
		{"1️⃣ parar", "", keywords.Match{keywords.OptOut, "parar", "por"}},   // keycaps
		{"#voltar #️⃣", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},
		{"*️⃣stop*️⃣", "", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"#\u20e3 sair", "", keywords.Match{keywords.OptOut, "sair", "por"}},
		{"❤️ #voltar ❤️", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},   // VS16
		{"❤\ufe0e #voltar", "", keywords.Match{keywords.OptIn, "#voltar", "por"}}, // VS15
		{"🙏🏽#VOLTAR🙏🏽", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},
		{"Stop ✋🏻✋🏻✋🏻", "", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"STOP™", "", keywords.Match{keywords.OptOut, "stop", "eng"}}, // pictographs that NFKD would spell out
		{"ℹ️ sair", "", keywords.Match{keywords.OptOut, "sair", "por"}},
		{"Ⓜ️ salir ㊙️", "", keywords.Match{keywords.OptOut, "salir", "spa"}},
		{"stop ‼️", "", keywords.Match{keywords.OptOut, "stop", "eng"}},

		// format characters anywhere
		{"pa\u200brar", "", keywords.Match{keywords.OptOut, "parar", "por"}}, // zero-width space
		{"pa\u00adrar", "", keywords.Match{keywords.OptOut, "parar", "por"}}, // soft hyphen
		{"\ufeffparar", "", keywords.Match{keywords.OptOut, "parar", "por"}}, // byte order mark
		{"pa\u2060rar", "", keywords.Match{keywords.OptOut, "parar", "por"}}, // word joiner
		{"sa\u200cir", "", keywords.Match{keywords.OptOut, "sair", "por"}},   // zero-width non-joiner
		{"s\u200dtop", "", keywords.Match{keywords.OptOut, "stop", "eng"}},   // zero-width joiner
		{"#\u200bvoltar", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},
		{"\u200b#voltar\u200b", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},
		{"d\u00ade\u00adt\u00ade\u00adn\u00ade\u00adr", "", keywords.Match{keywords.OptOut, "detener", "spa"}},
		{"\u2063\u2064stop\u2061\u2062", "", keywords.Match{keywords.OptOut, "stop", "eng"}}, // invisible operators

		// bidirectional marks, embeddings, overrides and isolates
		{"\u200eparar\u200f", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"par\u200ear", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"\u202bsair\u202c", "", keywords.Match{keywords.OptOut, "sair", "por"}},
		{"\u202aSalir\u202c", "", keywords.Match{keywords.OptOut, "salir", "spa"}},
		{"\u202estop\u202c", "", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"\u202dexit\u202c", "", keywords.Match{keywords.OptOut, "exit", "eng"}},
		{"\u2067#voltar\u2069", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},
		{"\u2066pa\u2068rar\u2069\u2069", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"\u200f#VOLTAR\u061c", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},

		// Unicode spaces
		{"\u00a0parar\u00a0", "", keywords.Match{keywords.OptOut, "parar", "por"}}, // no-break space
		{"\u202fparar\u202f", "", keywords.Match{keywords.OptOut, "parar", "por"}}, // narrow no-break space
		{"\u2007stop\u2009", "", keywords.Match{keywords.OptOut, "stop", "eng"}},   // figure and thin spaces
		{"\u3000salir\u3000", "", keywords.Match{keywords.OptOut, "salir", "spa"}}, // ideographic space
		{"\u205fsair\u1680", "", keywords.Match{keywords.OptOut, "sair", "por"}},
		{"\u0085exit\u2028\u2029", "", keywords.Match{keywords.OptOut, "exit", "eng"}},

		// WhatsApp's formatting markers
		{"*PARAR*", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"_parar_", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"~parar~", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"```parar```", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"`#start`", "", keywords.Match{keywords.OptIn, "#start", "eng"}},
		{"_*Sair*_", "", keywords.Match{keywords.OptOut, "sair", "por"}},
		{"*¡Salir!*", "", keywords.Match{keywords.OptOut, "salir", "spa"}},

		// all of it at once
		{"*#voltar* 🙏", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},
		{"~*STOP*~ 😡😡", "", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"\u200b*Pa\u00adrar* 👍🏽\u00a0", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"\u2067*#Vol\u200btar*\u2069 🙏", "", keywords.Match{keywords.OptIn, "#voltar", "por"}},

		// a keyword of any language answers in the contact's language if the workspace has it
		{"#optout", "spa", keywords.Match{keywords.OptOut, "#optout", "spa"}},
		{"#OptOut", "eng", keywords.Match{keywords.OptOut, "#optout", "eng"}},
		{"#optout", "por", keywords.Match{keywords.OptOut, "#optout", "por"}},
		{"#optout", "fra", keywords.Match{keywords.OptOut, "#optout", "por"}},
		{"#optout", "", keywords.Match{keywords.OptOut, "#optout", "por"}},

		// not keywords
		{"", "", noMatch},
		{"!!!", "", noMatch},
		{"quero parar de receber", "", noMatch},
		{"parar de receber", "", noMatch},
		{"por favor parar", "", noMatch},
		{"stop stop", "", noMatch},
		{"stop!stop", "", noMatch},
		{"s top", "", noMatch},
		{"stopp", "", noMatch},
		{"sto", "", noMatch},
		{"voltar", "", noMatch}, // opt-in words need their '#'
		{"receber", "", noMatch},
		{"start", "", noMatch},
		{"optout", "", noMatch},
		{"# voltar", "", noMatch},
		{"stop\xff", "", noMatch},
		{"🙏", "", noMatch}, // only emoji
		{"👍🏽👍🏽", "", noMatch},
		{"👨‍👩‍👧", "", noMatch},
		{"🇧🇷", "", noMatch},
		{"#️⃣", "", noMatch},
		{"❤️", "", noMatch},
		{"\u200b", "", noMatch},
		{"quero parar 🙏", "", noMatch}, // a sentence with emoji
		{"🙏 parar de receber 🙏", "", noMatch},
		{"parar 🙏 agora", "", noMatch}, // emoji between words
		{"parar🙏agora", "", noMatch},
		{"stop 👍 stop", "", noMatch},
		{"voltar 🙏", "", noMatch}, // still without its '#'
		{"*voltar*", "", noMatch},
		{"\u200bvoltar", "", noMatch},
		{"#️⃣voltar", "", noMatch}, // a keycap is an emoji, not a '#'
		{"# voltar 🙏", "", noMatch},
		{"#", "", noMatch},
		{"*#*", "", noMatch},
		{"# 🙏", "", noMatch},
		{"stop 1", "", noMatch},           // a digit is not an emoji
		{"stop 1\ufe0f", "", noMatch},     // nor with a variation selector but no keycap
		{"s\u200b\u0301top", "", noMatch}, // a format character keeps a mark off the letter before it
		{"pa\u034frar", "", noMatch},      // a combining grapheme joiner is a mark, not a format character
		{"stop\u2800", "", noMatch},       // nor is a blank braille pattern a space
		{"Não quero mais receber mensagens, obrigado!", "", noMatch},
	}

	for _, tc := range tcs {
		assert.Equal(t, tc.expected, keywords.Default.Match(tc.text, tc.contact), "match mismatch for %q (contact %q)", tc.text, tc.contact)
	}
}

func TestMatchEmoji(t *testing.T) {
	data, err := os.ReadFile("testdata/emoji.txt")
	require.NoError(t, err)

	n := 0
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		emoji := strings.TrimSuffix(line, "\n")
		n++

		// every emoji sequence is trimmed from either end, with or without a space
		assert.Equal(t, "", keywords.Normalize(emoji), "normalize mismatch for %+q", emoji)
		assert.Equal(t, noMatch, keywords.Default.Match(emoji, ""), "match mismatch for %+q", emoji)
		assert.Equal(t, noMatch, keywords.Default.Match(emoji+emoji, ""), "match mismatch for %+q twice", emoji)
		assert.Equal(t, keywords.Match{keywords.OptOut, "parar", "por"}, keywords.Default.Match(emoji+"parar"+emoji, ""), "match mismatch for parar in %+q", emoji)
		assert.Equal(t, keywords.Match{keywords.OptIn, "#voltar", "por"}, keywords.Default.Match(emoji+" #voltar "+emoji, ""), "match mismatch for #voltar in %+q", emoji)

		// but keeps two words apart
		assert.Equal(t, noMatch, keywords.Default.Match("pa"+emoji+"rar", ""), "match mismatch for %+q inside parar", emoji)
	}
	assert.Greater(t, n, 4000, "emoji sequences read")
}

func TestMatchLanguage(t *testing.T) {
	set := keywords.Set{}
	set.Add(keywords.OptOut, "por", "parar", "basta")
	set.Add(keywords.OptOut, "spa", "basta")
	set.Add(keywords.OptOut, "eng", "stop")
	set.Add(keywords.OptOut, keywords.AnyLanguage, "#optout", "stop")
	set.Add(keywords.OptIn, "spa", "#volver")

	catalog, err := keywords.New(set, []i18n.Language{"por", "spa", "eng"}, "spa")
	require.NoError(t, err)

	tcs := []struct {
		text     string
		contact  i18n.Language
		expected keywords.Match
	}{
		// a keyword of a single language answers in that language whatever the contact's
		{"parar", "eng", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"parar", "", keywords.Match{keywords.OptOut, "parar", "por"}},
		{"#volver", "por", keywords.Match{keywords.OptIn, "#volver", "spa"}},

		// a keyword of two languages answers in the contact's language if it is one of them, else the default
		{"basta", "por", keywords.Match{keywords.OptOut, "basta", "por"}},
		{"basta", "spa", keywords.Match{keywords.OptOut, "basta", "spa"}},
		{"basta", "eng", keywords.Match{keywords.OptOut, "basta", "spa"}},
		{"basta", "fra", keywords.Match{keywords.OptOut, "basta", "spa"}},
		{"basta", "", keywords.Match{keywords.OptOut, "basta", "spa"}},

		// a keyword of any language answers in the contact's language if the workspace has it, else the default
		{"#optout", "eng", keywords.Match{keywords.OptOut, "#optout", "eng"}},
		{"#optout", "por", keywords.Match{keywords.OptOut, "#optout", "por"}},
		{"#optout", "fra", keywords.Match{keywords.OptOut, "#optout", "spa"}},
		{"#optout", "", keywords.Match{keywords.OptOut, "#optout", "spa"}},

		// a keyword of a language and of any language is one of any language
		{"stop", "eng", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"stop", "por", keywords.Match{keywords.OptOut, "stop", "por"}},
		{"stop", "fra", keywords.Match{keywords.OptOut, "stop", "spa"}},
	}

	for _, tc := range tcs {
		assert.Equal(t, tc.expected, catalog.Match(tc.text, tc.contact), "match mismatch for %q (contact %q)", tc.text, tc.contact)
	}

	// a workspace of one language answers in that language, even for a keyword of any language
	set = keywords.Set{}
	set.Add(keywords.OptOut, keywords.AnyLanguage, "#optout")
	catalog, err = keywords.New(set, []i18n.Language{"eng"}, "eng")
	require.NoError(t, err)
	assert.Equal(t, keywords.Match{keywords.OptOut, "#optout", "eng"}, catalog.Match("#optout", "spa"))
}

func TestMatchCustom(t *testing.T) {
	set := keywords.Defaults()
	set.Add(keywords.OptOut, "por", "Não quero mais", "CHEGA 🛑\u200b")
	set.Add(keywords.OptIn, "eng", "#subscribe")
	require.NoError(t, set.Remove(keywords.OptOut, "eng", "exit"))
	require.NoError(t, set.Remove(keywords.OptIn, "eng", "#start"))

	long := strings.Repeat("x", keywords.MaxKeywordBytes-1) + "é" // decomposes to MaxKeywordBytes+2 bytes
	longest := strings.Repeat("x", keywords.MaxKeywordBytes)
	set.Add(keywords.OptOut, "eng", longest)

	catalog, err := keywords.New(set, []i18n.Language{"por", "spa", "eng"}, "por")
	require.NoError(t, err)

	tcs := []struct {
		text     string
		expected keywords.Match
	}{
		{"não quero mais", keywords.Match{keywords.OptOut, "não quero mais", "por"}},
		{"  NÃO   quero mais!! ", keywords.Match{keywords.OptOut, "não quero mais", "por"}},
		{"Na\u0303o quero mais", keywords.Match{keywords.OptOut, "não quero mais", "por"}},
		{"nao quero mais", noMatch},
		{"não, quero mais", noMatch},
		{"chega!", keywords.Match{keywords.OptOut, "chega", "por"}},
		{"Chega 🛑", keywords.Match{keywords.OptOut, "chega", "por"}},
		{"CHE\u200bGA", keywords.Match{keywords.OptOut, "chega", "por"}},
		{"#Subscribe", keywords.Match{keywords.OptIn, "#subscribe", "eng"}},
		{"stop", keywords.Match{keywords.OptOut, "stop", "eng"}},
		{"exit", noMatch},
		{"#start", noMatch},
		{strings.ToUpper(longest) + "!!!", keywords.Match{keywords.OptOut, longest, "eng"}},
		{longest + "x", noMatch},
		{long, noMatch},
	}

	for _, tc := range tcs {
		assert.Equal(t, tc.expected, catalog.Match(tc.text, ""), "match mismatch for %q", tc.text)
	}
}

func TestNew(t *testing.T) {
	withOptOut := func(lang i18n.Language, words ...string) keywords.Set {
		set := keywords.Defaults()
		set.Add(keywords.OptOut, lang, words...)
		return set
	}
	withOptIn := func(lang i18n.Language, words ...string) keywords.Set {
		set := keywords.Defaults()
		set.Add(keywords.OptIn, lang, words...)
		return set
	}
	workspace := []i18n.Language{"por", "spa", "eng"}

	tcs := []struct {
		set             keywords.Set
		languages       []i18n.Language
		defaultLanguage i18n.Language
		err             string
	}{
		{keywords.Defaults(), workspace, "por", ""},
		{keywords.Defaults(), workspace, "eng", ""},
		{keywords.Set{}, workspace, "por", ""},
		{nil, []i18n.Language{"eng"}, "eng", ""},
		{withOptOut("eng", "STOP", "Stop!"), workspace, "por", ""}, // duplicates once normalized
		{withOptOut("eng", "parar"), workspace, "por", ""},         // a word of several languages
		{withOptOut("eng", strings.Repeat("x", keywords.MaxKeywordBytes)), workspace, "por", ""},

		{withOptIn("eng", "STOP"), workspace, "por", `keyword "stop" is configured for both opt_out and opt_in`},
		{withOptIn("spa", "#optout"), workspace, "por", `keyword "#optout" is configured for both opt_out and opt_in`},
		{withOptOut("por", "#Voltar!"), workspace, "por", `keyword "#voltar" is configured for both opt_out and opt_in`},
		{withOptOut("eng", "!!!"), workspace, "por", `keyword "!!!" is empty once normalized`},
		{withOptIn("eng", ""), workspace, "por", `keyword "" is empty once normalized`},
		{withOptOut("eng", "🛑"), workspace, "por", `keyword "🛑" is empty once normalized`},
		{withOptOut("eng", "\u200b"), workspace, "por", `keyword "\u200b" is empty once normalized`},
		{withOptOut("eng", strings.Repeat("x", keywords.MaxKeywordBytes+1)), workspace, "por", `keyword "` + strings.Repeat("x", keywords.MaxKeywordBytes+1) + `" is longer than 64 bytes once normalized`},
		{withOptOut("eng", strings.Repeat("x", 62)+"é"), workspace, "por", `keyword "` + strings.Repeat("x", 62) + `é" is longer than 64 bytes once normalized`},
		{keywords.Defaults(), []i18n.Language{"eng"}, "eng", `language "por" of opt_out keywords ["parar" "sair"] is neither "any" nor one of the workspace languages [eng]`},
		{withOptOut("fra", "arrêter"), workspace, "por", `language "fra" of opt_out keywords ["arrêter"] is neither "any" nor one of the workspace languages [por spa eng]`},
		{withOptIn("", "#go"), workspace, "por", `language "" of opt_in keywords ["#go"] is neither "any" nor one of the workspace languages [por spa eng]`},
		{keywords.Set{"opt-out": keywords.Words{"eng": {"stop"}}}, workspace, "por", `keywords can't be configured for intent "opt-out"`},
		{keywords.Set{keywords.None: keywords.Words{"eng": {"hello"}}}, workspace, "por", `keywords can't be configured for intent "none"`},
		{keywords.Defaults(), workspace, "fra", `default language "fra" is not one of the workspace languages [por spa eng]`},
		{keywords.Defaults(), workspace, "", `default language "" is not one of the workspace languages [por spa eng]`},
		{keywords.Defaults(), nil, "por", `default language "por" is not one of the workspace languages []`},
		{keywords.Set{}, []i18n.Language{"eng", "any"}, "eng", `"any" is not a valid workspace language`},
	}

	for _, tc := range tcs {
		catalog, err := keywords.New(tc.set, tc.languages, tc.defaultLanguage)

		if tc.err != "" {
			assert.EqualError(t, err, tc.err, "error mismatch for set %v", tc.set)
			assert.Nil(t, catalog)
		} else {
			assert.NoError(t, err, "unexpected error for set %v", tc.set)
			assert.NotNil(t, catalog)
		}
	}
}

func TestKeywords(t *testing.T) {
	assert.Equal(t, keywords.Words{
		"por": {"parar", "sair"},
		"spa": {"detener", "salir"},
		"eng": {"exit", "stop"},
		"any": {"#optout"},
	}, keywords.Default.Keywords(keywords.OptOut))
	assert.Equal(t, keywords.Words{
		"por": {"#receber", "#voltar"},
		"spa": {"#recibir", "#volver"},
		"eng": {"#start"},
	}, keywords.Default.Keywords(keywords.OptIn))
	assert.Equal(t, keywords.Words{}, keywords.Default.Keywords(keywords.None))

	// normalized, sorted and without duplicates
	set := keywords.Set{}
	set.Add(keywords.OptOut, "eng", "STOP!", "Halt", "stop", "  Cancel   it ")
	set.Add(keywords.OptOut, "por", "Não")
	catalog, err := keywords.New(set, []i18n.Language{"eng", "por"}, "eng")
	require.NoError(t, err)

	assert.Equal(t, keywords.Words{"eng": {"cancel it", "halt", "stop"}, "por": {"não"}}, catalog.Keywords(keywords.OptOut))
	assert.Equal(t, keywords.Words{}, catalog.Keywords(keywords.OptIn))

	// the listing is a copy
	catalog.Keywords(keywords.OptOut)["eng"][0] = "go"
	assert.Equal(t, keywords.Match{keywords.OptOut, "cancel it", "eng"}, catalog.Match("cancel it", ""))
	assert.Equal(t, []string{"cancel it", "halt", "stop"}, catalog.Keywords(keywords.OptOut)["eng"])
}
