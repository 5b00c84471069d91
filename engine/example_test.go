package engine_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets/static"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
)

// hostAssets are what a host's own asset source must hold for the plugin: the two fields, the group, and the channel
// its contacts write on.
const hostAssets = `{
	"channels": [{"uuid": "4e8b1c1e-2b8a-4d1c-9d6e-0a2f3b4c5d6e", "name": "WhatsApp", "address": "+5511999990000",
		"schemes": ["whatsapp"], "roles": ["send", "receive"]}],
	"fields": [
		{"uuid": "2b1f6d0e-8c61-4f57-a2a4-6f1d8e3c9b10", "key": "optout_status", "name": "Opt-Out Status", "type": "text"},
		{"uuid": "7c3e9a52-1d44-4b0e-9f7a-3e5b2c1d0a21", "key": "optout_changed_on", "name": "Opt-Out Changed On", "type": "datetime"}
	],
	"groups": [{"uuid": "90910b59-8728-5725-82e0-5cc125eae6aa", "name": "Opted Out"}]
}`

// The README's embedding snippet as a program: a host's assets, one contact, and a PARAR that the interceptor takes
// before any flow could.
func Example() {
	ctx := context.Background()
	eng := engine.NewBuilder().Build()
	interceptor := engine.NewInterceptor(eng)

	hostSource, err := static.NewSource([]byte(hostAssets))
	if err != nil {
		panic(err)
	}
	cfg := config.Default
	env := engine.NewEnvironment(cfg)
	sa, err := engine.NewSessionAssets(env, hostSource, cfg)
	if err != nil {
		panic(err)
	}

	channel := sa.Channels().Get("4e8b1c1e-2b8a-4d1c-9d6e-0a2f3b4c5d6e")
	contact := flows.NewEmptyContact(sa, "Ana", "por", nil)
	contact.AddRoute(urns.URN("whatsapp:5511987654321"), channel)
	msg := events.NewMsgReceived(flows.NewMsgIn("whatsapp:5511987654321", channel.Reference(), "PARAR", nil, ""), "")

	res, err := interceptor.Intercept(ctx, sa, env, contact, msg)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Handled(), res.Match.Intent, res.Match.Language, consent.StatusOf(sa, contact))
	for _, e := range res.Events {
		if created, ok := e.(*events.MsgCreated); ok {
			fmt.Println(created.Msg.Text())
		}
	}

	// a broadcast of a marketing template skips her now; a one-time password still goes
	lastInbound := time.Now()
	for _, category := range []string{"MARKETING", "AUTHENTICATION"} {
		d := engine.Decide(cfg, consent.StatusOf(sa, contact), lastInbound, time.Now(),
			engine.Message{Origin: engine.OriginBroadcast, Template: "promo", Category: category})
		fmt.Println(category, d.Send, d.Reason)
	}

	// Output:
	// true opt_out por opted_out
	// Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!
	// MARKETING false opted_out
	// AUTHENTICATION true
}
