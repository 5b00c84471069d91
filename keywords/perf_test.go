package keywords_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/optout-dev/optout/keywords"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// messages are the sort of inbound WhatsApp messages that are not keywords, which is nearly all of them.
var messages = []string{
	"oi",
	"Sim",
	"ok 👍",
	"Bom dia! Tudo bem?",
	"Não, obrigado.",
	"quero parar de receber",
	"Olá, gostaria de saber o horário de funcionamento da unidade de saúde mais próxima 🙏",
	"Hola, ¿a qué hora abren mañana? Necesito recoger mis medicamentos 💊",
	"¡Muchas gracias por la información! 😊😊",
	"Hi, can you tell me when my next appointment is? Thanks!",
	"STOP SENDING ME THESE MESSAGES PLEASE",
	"ＳＴＯＰ ＮＯＷ",              // full width, needs NFKD
	"\u00a0Sim\u00a0",       // no-break spaces, need NFKD
	"Obrigado… até amanhã",  // ellipsis, needs NFKD
	"Ａｇｕａｒｄｏ ａ ｃｏｎｆｉｒｍａçãｏ", // full width with accents
	"😂😂😂😂😂😂😂😂😂😂😂😂😂😂😂😂😂😂😂😂",
	"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
	"stop" + strings.Repeat("!", 200) + "x",
	strings.Repeat("Eu não consigo acessar o aplicativo, aparece uma mensagem de erro. ", 30),
	strings.Repeat("No puedo entrar a la aplicación, sale un mensaje de error. ", 30),
	strings.Repeat("I can't log in to the app, it shows an error message. ", 30),
	strings.Repeat("Ｅｒｒｏ ｎｏ ａｐｌｉｃａｔｉｖｏ ", 30),
	strings.Repeat("你好，我想取消订阅。", 30),
	strings.Repeat("\u0301", 100),
	"\xff\xfe invalid \xe2\x82",
	"👍🏽👍🏽👍🏽", // as people type them on WhatsApp
	"parar 🙏 agora",
	"*Bom dia!* ☀\ufe0f",
	"\u200bOi\u200b",
	"voltar ❤\ufe0f",
	"Obrigado 🙏🏽🙏🏽🙏🏽\u00a0",
	"\u2067مرحبا\u2069",
	"1\ufe0f\u20e3",
	"Na\u200b\u0303o", // a format character kept before a mark
}

// hits are keywords as contacts send them.
var hits = []string{
	"Parar",
	"SAIR!",
	"¡Salir!",
	"stop.",
	"  STOP  ",
	"#VOLTAR",
	"#optout",
	"ＳＴＯＰ",
	"*PARAR* 🙏",
	"👍🏽 Sair",
	"#voltar\u200b",
	"\u202bstop\u202c",
}

func TestMatchMissDoesNotAllocate(t *testing.T) {
	// a catalog with a keyword as long as they can be, so that misses read as much as they ever do
	set := keywords.Defaults()
	set.Add(keywords.OptOut, "eng", strings.Repeat("x", keywords.MaxKeywordBytes))
	longest, err := keywords.New(set, []i18n.Language{"por", "spa", "eng"}, "por")
	require.NoError(t, err)

	for _, catalog := range []*keywords.Catalog{keywords.Default, longest} {
		for _, msg := range messages {
			require.Equal(t, keywords.None, catalog.Match(msg, "por").Intent, "unexpected match for %q", msg)

			allocs := testing.AllocsPerRun(100, func() { catalog.Match(msg, "por") })
			assert.Equal(t, 0.0, allocs, "allocations matching %q", msg)
		}
	}

	// nor do hits, as the match holds the catalog's own keyword
	for _, msg := range hits {
		require.NotEqual(t, keywords.None, keywords.Default.Match(msg, "por").Intent, "expected match for %q", msg)

		allocs := testing.AllocsPerRun(100, func() { keywords.Default.Match(msg, "por") })
		assert.Equal(t, 0.0, allocs, "allocations matching %q", msg)
	}
}

func TestMatchConcurrently(t *testing.T) {
	// the catalog and the pool of iterators are shared, which the race detector checks
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, msg := range messages {
				assert.Equal(t, keywords.None, keywords.Default.Match(msg, "por").Intent, "unexpected match for %q", msg)
			}
			for _, msg := range hits {
				assert.NotEqual(t, keywords.None, keywords.Default.Match(msg, "por").Intent, "expected match for %q", msg)
			}
		})
	}
	wg.Wait()
}

func BenchmarkMatchMiss(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		keywords.Default.Match(messages[i%len(messages)], "por")
	}
}

func BenchmarkMatchHit(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		keywords.Default.Match(hits[i%len(hits)], "por")
	}
}
