package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	goflow "github.com/nyaruka/goflow/flows/engine"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/triggers"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/fixtures"
	"github.com/optout-dev/optout/keywords"
)

// keywordShare is the share of keywords in realistic traffic.
const keywordShare = 0.01

func runKeywords(ctx context.Context, r *run) error {
	n := 10_000
	if r.opts.Short {
		n = 1_000
	}
	traffic := newTraffic(n)

	ic, err := newInterceptorSide()
	if err != nil {
		return err
	}
	stock, err := newStockSide()
	if err != nil {
		return err
	}

	for _, c := range []struct {
		name, what string
		texts      []string
		target     []Criterion
	}{
		{"keywords/miss", "messages that are not keywords", traffic.misses,
			[]Criterion{{ofRatio, ">=", 1000}, {"interceptor allocs", "<=", 0}}},
		{"keywords/mixed", "messages of realistic traffic, 1% of them keywords", traffic.mixed,
			[]Criterion{{ofRatio, ">=", 300}}},
	} {
		res := &Result{
			Name: c.name,
			What: fmt.Sprintf("Deciding %s %s (5 to 200 characters of Portuguese, Spanish and English), in process: the plugin's "+
				"interceptor (engine.Interceptor.Intercept, which runs the system flow on a keyword) against goflow's stock "+
				"engine starting a session of a flow whose switch router tests @input.text with has_only_phrase, one case "+
				"per keyword of the default catalog (%d), on the same messages. Each side runs whole passes over the "+
				"messages for %s a repeat; allocations are counted by the runtime over the same passes, in whole allocations "+
				"per message as testing.B reports them.",
				num(float64(len(c.texts))), c.what, stock.cases, r.sizes.keywordTime),
			Measured: Side{Label: "interceptor", Unit: "ns/msg"},
			Baseline: &Side{Label: "goflow switch router", Unit: "ns/msg"},
			Speedup:  true,
			Target:   c.target,
		}
		icMsgs, stockMsgs := ic.messages(c.texts), stock.messages(c.texts)
		err := r.repeat(func(int) (bool, error) {
			icNs, icAllocs, err := timePasses(r.sizes.keywordTime, icMsgs, ic.decide)
			if err != nil {
				return false, fmt.Errorf("interceptor: %w", err)
			}
			stockNs, stockAllocs, err := timePasses(r.sizes.keywordTime, stockMsgs, stock.decide)
			if err != nil {
				return false, fmt.Errorf("goflow switch router: %w", err)
			}
			res.pair(icNs, stockNs)
			res.metric("interceptor allocs", "allocs/msg").add(icAllocs)
			res.metric("switch router allocs", "allocs/msg").add(stockAllocs)
			return false, nil
		})
		if err != nil {
			return err
		}
		r.add(res)
	}
	return nil
}

// timePasses decides every message in turn, in whole passes over them until d has passed, and returns the time and
// the whole allocations per message, as testing.B counts them: the runtime's count includes what other goroutines
// of the process allocate meanwhile, a fraction of one per message.
func timePasses(d time.Duration, msgs []*events.MsgReceived, decide func(*events.MsgReceived) error) (ns, allocs float64, err error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	started := time.Now()
	n := 0
	for n == 0 || time.Since(started) < d {
		for _, m := range msgs {
			if err := decide(m); err != nil {
				return 0, 0, err
			}
		}
		n += len(msgs)
	}
	elapsed := time.Since(started)
	runtime.ReadMemStats(&after)
	return float64(elapsed.Nanoseconds()) / float64(n), float64((after.Mallocs - before.Mallocs) / uint64(n)), nil
}

// decider is one side of the keyword benchmarks: a contact of a workspace and what decides its messages.
type decider struct {
	sa      flows.SessionAssets
	env     envs.Environment
	contact *flows.Contact
	channel assets.ChannelUUID
	decide  func(*events.MsgReceived) error
	cases   int
}

// messages makes the texts messages of the decider's contact, on the fixture WhatsApp channel.
func (d *decider) messages(texts []string) []*events.MsgReceived {
	channel := d.sa.Channels().Get(d.channel).Reference()
	msgs := make([]*events.MsgReceived, len(texts))
	for i, text := range texts {
		msgs[i] = events.NewMsgReceived(flows.NewMsgIn(urns.URN("whatsapp:5511987650001"), channel, text, nil, ""), "")
	}
	return msgs
}

// newInterceptorSide is the plugin: the interceptor in front of a workspace with the default configuration.
func newInterceptorSide() (*decider, error) {
	src, channel, err := withFixtures(&export.Export{})
	if err != nil {
		return nil, err
	}
	env := engine.NewEnvironment(config.Default)
	sa, err := engine.NewSessionAssets(env, src, config.Default)
	if err != nil {
		return nil, err
	}
	contact, err := fixtures.Contact(sa, "por")
	if err != nil {
		return nil, err
	}
	ic := engine.NewInterceptor(engine.NewBuilder().Build())
	d := &decider{sa: sa, env: env, contact: contact, channel: channel}
	d.decide = func(m *events.MsgReceived) error {
		_, err := ic.Intercept(context.Background(), sa, env, contact, m)
		return err
	}
	return d, nil
}

// withFixtures is the asset source of the export with the fixture assets it lacks, and the UUID of their WhatsApp
// channel, which messages arrive on.
func withFixtures(exp *export.Export) (assets.Source, assets.ChannelUUID, error) {
	extra, err := fixtures.Extra(exp)
	if err != nil {
		return nil, "", err
	}
	src, err := exp.Source(extra)
	if err != nil {
		return nil, "", err
	}
	var doc struct {
		Channels []struct {
			UUID assets.ChannelUUID `json:"uuid"`
		} `json:"channels"`
	}
	if err := json.Unmarshal(extra, &doc); err != nil || len(doc.Channels) == 0 {
		return nil, "", fmt.Errorf("the fixture assets have no channel (%v)", err)
	}
	return src, doc.Channels[0].UUID, nil
}

// newStockSide is what a platform without the plugin does: goflow's own engine starts a flow for the message, whose
// switch router tests it against every keyword with has_only_phrase.
func newStockSide() (*decider, error) {
	flow, cases := switchFlow()
	exp, err := export.Read(flow)
	if err != nil {
		return nil, fmt.Errorf("the switch router's flow: %w", err)
	}
	src, channel, err := withFixtures(exp)
	if err != nil {
		return nil, err
	}
	env := engine.NewEnvironment(config.Default)
	sa, err := goflow.NewSessionAssets(env, src, nil)
	if err != nil {
		return nil, err
	}
	ref := assets.NewFlowReference(exp.Flows[0].UUID, exp.Flows[0].Name)
	contact := flows.NewEmptyContact(sa, "Ana", "por", nil)
	eng := goflow.NewBuilder().Build()
	d := &decider{sa: sa, env: env, contact: contact, channel: channel, cases: cases}
	d.decide = func(m *events.MsgReceived) error {
		_, _, err := eng.NewSession(context.Background(), sa, env, contact, triggers.NewBuilder(ref).MsgReceived(m).Build(), nil)
		return err
	}
	return d, nil
}

// catalogLanguages are the languages of the default catalog's keywords, in the order the benchmarks list them.
var catalogLanguages = []i18n.Language{"por", "spa", "eng", keywords.AnyLanguage}

// switchFlow is an export of a flow made of one switch router on @input.text, with a has_only_phrase case for each
// keyword of the default catalog, saving its result as a designer would, and the number of cases.
func switchFlow() ([]byte, int) {
	const (
		optOutCategory = "0f6a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c"
		optInCategory  = "1a7b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"
		otherCategory  = "2b8c3d4e-5f6a-4b7c-8d8e-9f0a1b2c3d4e"
	)
	var cases []map[string]any
	for _, intent := range []struct {
		intent   keywords.Intent
		category string
	}{{keywords.OptOut, optOutCategory}, {keywords.OptIn, optInCategory}} {
		for _, lang := range catalogLanguages {
			for _, word := range keywords.Default.Keywords(intent.intent)[lang] {
				cases = append(cases, map[string]any{
					"uuid": fmt.Sprintf("3c9d4e5f-6a7b-4c8d-9e0f-%012d", len(cases)), "type": "has_only_phrase",
					"arguments": []string{word}, "category_uuid": intent.category,
				})
			}
		}
	}
	flow := map[string]any{
		"uuid": "4da05f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a", "name": "Keywords (stock)", "spec_version": "13.0.0",
		"language": "por", "type": "messaging", "revision": 1, "expire_after_minutes": 10080, "localization": map[string]any{},
		"nodes": []any{map[string]any{
			"uuid": "5eb16a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b", "actions": []any{},
			"router": map[string]any{
				"type": "switch", "operand": "@input.text", "result_name": "Keyword", "cases": cases,
				"categories": []any{
					map[string]any{"uuid": optOutCategory, "name": "Opt Out", "exit_uuid": "6fc27b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c"},
					map[string]any{"uuid": optInCategory, "name": "Opt In", "exit_uuid": "70d38c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d"},
					map[string]any{"uuid": otherCategory, "name": "Other", "exit_uuid": "81e49d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"},
				},
				"default_category_uuid": otherCategory,
			},
			"exits": []any{
				map[string]any{"uuid": "6fc27b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c"},
				map[string]any{"uuid": "70d38c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d"},
				map[string]any{"uuid": "81e49d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"},
			},
		}},
	}
	data, _ := json.Marshal(map[string]any{"version": "13", "flows": []any{flow}})
	return data, len(cases)
}

// traffic is what a WhatsApp number receives: sentences of 5 to 200 characters in Portuguese, Spanish and
// English, and among them a few keywords, as people type them.
type traffic struct {
	misses []string
	mixed  []string // the misses, with keywordShare of keywords among them
}

// vocabulary is the words the sentences are made of, none a keyword on its own.
var vocabulary = [][]string{
	strings.Fields("olá bom dia boa tarde obrigado obrigada meu pedido ainda não chegou quando vai chegar preciso de ajuda " +
		"com o pagamento cartão boleto pix endereço entrega amanhã hoje vocês abrem no sábado qual é o horário da loja " +
		"quero trocar o produto tamanho cor nota fiscal por favor tudo bem sim ok certo valor desconto frete grátis"),
	strings.Fields("hola buenos días buenas tardes gracias mi pedido todavía no llegó cuándo va a llegar necesito ayuda " +
		"con el pago tarjeta dirección entrega mañana hoy abren el sábado cuál es el horario de la tienda quiero cambiar " +
		"el producto talla color factura por favor todo bien sí vale precio descuento envío gratis"),
	strings.Fields("hi hello good morning thanks thank you my order has not arrived yet when will it arrive I need help " +
		"with the payment card address delivery tomorrow today are you open on saturday what are the store hours I want " +
		"to exchange the product size color invoice please all good yes okay price discount free shipping"),
}

// decorations are how people type a keyword around it.
var decorations = []func(string) string{
	func(s string) string { return s },
	strings.ToUpper,
	func(s string) string { r, n := utf8.DecodeRuneInString(s); return string(unicode.ToUpper(r)) + s[n:] },
	func(s string) string { return s + "!" },
	func(s string) string { return "  " + strings.ToUpper(s) + " " },
	func(s string) string { return "*" + s + "* 🙏" },
}

// newTraffic makes n messages, the same ones on every run.
func newTraffic(n int) *traffic {
	rnd := rand.New(rand.NewPCG(10, 2026))
	var words []string
	for _, intent := range []keywords.Intent{keywords.OptOut, keywords.OptIn} {
		for _, lang := range catalogLanguages {
			words = append(words, keywords.Default.Keywords(intent)[lang]...)
		}
	}

	t := &traffic{}
	hits := int(float64(n) * keywordShare)
	for len(t.misses) < n-hits {
		if text := sentence(rnd); keywords.Default.Match(text, "por").Intent == keywords.None {
			t.misses = append(t.misses, text)
		}
	}
	t.mixed = append(t.mixed, t.misses...)
	for range hits {
		text := decorations[rnd.IntN(len(decorations))](words[rnd.IntN(len(words))])
		t.mixed = append(t.mixed, text)
	}
	rnd.Shuffle(len(t.mixed), func(i, j int) { t.mixed[i], t.mixed[j] = t.mixed[j], t.mixed[i] })
	return t
}

// sentence makes a message of 5 to 200 characters in one of the languages.
func sentence(rnd *rand.Rand) string {
	words := vocabulary[rnd.IntN(len(vocabulary))]
	length := 5 + rnd.IntN(194) // and up to two more characters after it
	var b strings.Builder
	for {
		w := words[rnd.IntN(len(words))]
		if b.Len() > 0 && utf8.RuneCountInString(b.String())+1+utf8.RuneCountInString(w) > length {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	text := b.String()
	switch rnd.IntN(4) {
	case 0:
		text += "?"
	case 1:
		text += "!"
	case 2:
		text += " 😊"
	}
	for utf8.RuneCountInString(text) < 5 {
		text += "."
	}
	return text
}
