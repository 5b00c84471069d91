package engine_test

import (
	"context"
	"testing"

	"github.com/nyaruka/goflow/assets/static"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/fixtures"
	"github.com/optout-dev/optout/internal/flowtest"
	"github.com/optout-dev/optout/keywords"
)

func TestInterceptor(t *testing.T) {
	ctx := context.Background()
	sa := flowtest.SessionAssets(t, nil, nil)
	ic := engine.NewInterceptor(engine.NewBuilder().Build())

	contact, err := fixtures.Contact(sa, "por")
	require.NoError(t, err)

	// nearly all traffic: not handled, nothing happens to the contact
	res, err := ic.Intercept(ctx, sa, flowtest.Env(), contact, flowtest.Message(sa, contact, "Quero parar de receber promoções"))
	require.NoError(t, err)
	assert.False(t, res.Handled())
	assert.Equal(t, keywords.Match{Intent: keywords.None}, res.Match)
	assert.Nil(t, res.Events)
	assert.Equal(t, consent.Undefined, consent.StatusOf(sa, contact))

	// an opt-out: the system flow runs and the contact changes
	msg := flowtest.Message(sa, contact, "PARAR")
	res, err = ic.Intercept(ctx, sa, flowtest.Env(), contact, msg)
	require.NoError(t, err)
	assert.True(t, res.Handled())
	assert.Equal(t, keywords.Match{Intent: keywords.OptOut, Keyword: "parar", Language: "por"}, res.Match)
	assert.Equal(t, flows.SessionStatusCompleted, res.Session.Status())
	assert.Equal(t, consent.OptedOut, consent.StatusOf(sa, contact))
	assert.NotNil(t, contact.Groups().FindByUUID(optedOutGroup(sa).UUID()))

	changed := eventsOf[*consent.Changed](res.Events)
	require.Len(t, changed, 1)
	assert.Equal(t, keywords.OptOut, changed[0].Intent)
	assert.Equal(t, consent.Undefined, changed[0].PreviousStatus)
	assert.Equal(t, flows.InputUUID(msg.UUID()), changed[0].MsgUUID)
	assert.Equal(t, flowtest.ChannelUUID, changed[0].Channel.UUID)

	replies := eventsOf[*events.MsgCreated](res.Events)
	require.Len(t, replies, 1)
	assert.Equal(t, "Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!", replies[0].Msg.Text())

	// the same keyword again: a reply, no change
	res, err = ic.Intercept(ctx, sa, flowtest.Env(), contact, flowtest.Message(sa, contact, "sair"))
	require.NoError(t, err)
	assert.True(t, res.Handled())
	assert.Len(t, eventsOf[*consent.Changed](res.Events), 0)
	assert.Len(t, eventsOf[*events.MsgCreated](res.Events), 1)

	// and back in, in Spanish because #volver is Spanish
	res, err = ic.Intercept(ctx, sa, flowtest.Env(), contact, flowtest.Message(sa, contact, "#Volver"))
	require.NoError(t, err)
	assert.True(t, res.Handled())
	assert.Equal(t, consent.OptedIn, consent.StatusOf(sa, contact))
	assert.Nil(t, contact.Groups().FindByUUID(optedOutGroup(sa).UUID()))
	replies = eventsOf[*events.MsgCreated](res.Events)
	require.Len(t, replies, 1)
	assert.Equal(t, "Se ha concedido su solicitud para volver a la conversación! Bienvenido de nuevo!", replies[0].Msg.Text())
}

func TestInterceptorWorkspaceConfig(t *testing.T) {
	ctx := context.Background()
	sa := flowtest.SessionAssets(t, []byte(`{"keywords": {"opt_out": {"add": {"por": ["basta"]}, "remove": {"por": ["sair"]}}}}`), nil)
	ic := engine.NewInterceptor(engine.NewBuilder().Build())
	contact, err := fixtures.Contact(sa, "por")
	require.NoError(t, err)

	res, err := ic.Intercept(ctx, sa, flowtest.Env(), contact, flowtest.Message(sa, contact, "sair"))
	require.NoError(t, err)
	assert.False(t, res.Handled(), "a removed word is an ordinary message")

	res, err = ic.Intercept(ctx, sa, flowtest.Env(), contact, flowtest.Message(sa, contact, "Basta!"))
	require.NoError(t, err)
	assert.True(t, res.Handled())
	assert.Equal(t, consent.OptedOut, consent.StatusOf(sa, contact))
}

func TestInterceptorRefusesWorkspaceWithoutFields(t *testing.T) {
	src, err := static.NewSource([]byte(`{"channels": [{"uuid": "4e8b1c1e-2b8a-4d1c-9d6e-0a2f3b4c5d6e", "name": "WhatsApp", "address": "+5511999990000", "schemes": ["whatsapp"], "roles": ["send", "receive"]}]}`))
	require.NoError(t, err)
	sa, err := engine.NewSessionAssets(flowtest.Env(), src, config.Default)
	require.NoError(t, err)
	contact := flows.NewEmptyContact(sa, "Ana", "por", nil)

	ic := engine.NewInterceptor(engine.NewBuilder().Build())
	res, err := ic.Intercept(context.Background(), sa, flowtest.Env(), contact, flowtest.Message(sa, contact, "parar"))
	assert.EqualError(t, err, `workspace has no field "optout_status" and no field "optout_changed_on" and no group "Opted Out": import flows/optout.json or create them`)
	assert.False(t, res.Handled())
	assert.Equal(t, keywords.OptOut, res.Match.Intent)
}

func TestInterceptorMissAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	sa := flowtest.SessionAssets(t, nil, nil)
	ic := engine.NewInterceptor(engine.NewBuilder().Build())
	env := flowtest.Env()
	contact, err := fixtures.Contact(sa, "spa")
	require.NoError(t, err)

	for _, text := range missTexts {
		msg := flowtest.Message(sa, contact, text)
		allocs := testing.AllocsPerRun(100, func() {
			if res, _ := ic.Intercept(ctx, sa, env, contact, msg); res.Handled() {
				t.Fatalf("%q was handled", text)
			}
		})
		assert.Zero(t, allocs, "allocations intercepting %q", text)
	}
}

var missTexts = []string{
	"oi",
	"Olá! Gostaria de saber o status do meu pedido 12345, por favor.",
	"¿Cuál es el horario de atención de la tienda en Ciudad de México?",
	"quero parar de receber",
	"voltar",
	"ＳＴＯＰ ＰＬＥＡＳＥ",
	"👍",
	"Hello, I'd like to change my delivery address to 221B Baker Street, London. Thanks! 😊",
}

func BenchmarkInterceptorMiss(b *testing.B) {
	ctx := context.Background()
	sa := flowtest.SessionAssets(b, nil, nil)
	ic := engine.NewInterceptor(engine.NewBuilder().Build())
	env := flowtest.Env()
	contact, _ := fixtures.Contact(sa, "por")
	msgs := make([]*events.MsgReceived, len(missTexts))
	for i, text := range missTexts {
		msgs[i] = flowtest.Message(sa, contact, text)
	}

	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if res, _ := ic.Intercept(ctx, sa, env, contact, msgs[i%len(msgs)]); res.Handled() {
			b.Fatal("handled")
		}
	}
}

func BenchmarkInterceptorHit(b *testing.B) {
	ctx := context.Background()
	sa := flowtest.SessionAssets(b, nil, nil)
	ic := engine.NewInterceptor(engine.NewBuilder().Build())
	env := flowtest.Env()
	contact, _ := fixtures.Contact(sa, "por")
	// alternating keeps every message a real change, with its field, group and consent events
	msgs := []*events.MsgReceived{flowtest.Message(sa, contact, "PARAR"), flowtest.Message(sa, contact, "#voltar")}

	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if res, err := ic.Intercept(ctx, sa, env, contact, msgs[i%2]); err != nil || !res.Handled() {
			b.Fatal("not handled", err)
		}
	}
}

func optedOutGroup(sa flows.SessionAssets) *flows.Group {
	return sa.Groups().FindByName(config.Default.Group)
}

func eventsOf[T flows.Event](evts []flows.Event) []T {
	var found []T
	for _, e := range evts {
		if t, ok := e.(T); ok {
			found = append(found, t)
		}
	}
	return found
}
