package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/whatsapp"
	"github.com/optout-dev/optout/whatsapp/graphtest"
)

const (
	phoneID     = "106540352242922"
	wabaID      = "102290129340398"
	accessToken = "EAAG-access-token-of-the-test"
	appSecret   = "app-secret-of-the-test"
	verifyToken = "verify-token-of-the-test"
)

var account = graphtest.Account{WABAID: wabaID, PhoneNumberID: phoneID, DisplayPhoneNumber: "15550783881"}

// waEnv is a service connected to a Graph API of the test's own, whose WhatsApp workers the test starts.
type waEnv struct {
	*env
	graph *graphtest.Server
	stop  func()
}

// newWhatsApp returns a service with the workspace acme connected to WhatsApp, and with a webhook, and with the keys
// of config besides.
func newWhatsApp(t *testing.T, config ...string) *waEnv {
	e := &waEnv{env: newEnv(t), graph: graphtest.New(t), stop: func() {}}
	e.graph.AddPhone(phoneID, accessToken)
	keys := append([]string{
		fmt.Sprintf(`"whatsapp": {"phone_number_id": %q, "waba_id": %q, "access_token": %q, "app_secret": %q, "verify_token": %q}`,
			phoneID, wabaID, accessToken, appSecret, verifyToken),
		`"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "a-secret-long-enough"}`,
	}, config...)
	e.workspace("acme", "{"+strings.Join(keys, ", ")+"}")
	t.Cleanup(func() { e.stop() })
	return e
}

// run starts the WhatsApp workers, which stop when the test ends.
func (e *waEnv) run() {
	client, err := whatsapp.New(e.graph.URL)
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(e.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { e.svc.RunWhatsApp(ctx, service.WhatsAppOptions{Client: client, Poll: 10 * time.Millisecond}) })
	e.stop = func() { cancel(); wg.Wait() }
}

// notify posts a notification of the events, signed as Meta signs it, and returns how many events were new.
func (e *waEnv) notify(events ...graphtest.Event) int {
	body := account.Notification(events...)
	n, err := e.svc.ReceiveWhatsApp(e.ctx, "acme", body, whatsapp.Signature(body, appSecret))
	require.NoError(e.t, err)
	return n
}

func (e *waEnv) sender(from string) graphtest.Sender {
	return graphtest.Sender{From: from, Name: "Ana", At: e.clock()}
}

func (e *waEnv) outbox() []*service.OutboxView {
	msgs, _, err := e.svc.Outbox(e.ctx, "acme", 0, 1000)
	require.NoError(e.t, err)
	return msgs
}

// await waits for cond, checking it as the workers go.
func (e *waEnv) await(cond func() bool, what string) {
	e.t.Helper()
	require.Eventually(e.t, cond, 10*time.Second, 5*time.Millisecond, what)
}

// awaitRecorded waits for the message with the ID to have been claimed attempts times and its last attempt recorded,
// which it is at the time of the test's clock: after that the test may move its clock.
func (e *waEnv) awaitRecorded(id int64, attempts int) *service.OutboxView {
	e.t.Helper()
	var found *service.OutboxView
	e.await(func() bool {
		for _, m := range e.outbox() {
			if m.ID == id && m.Attempts == attempts && m.UpdatedOn != nil && m.UpdatedOn.Equal(e.clock()) {
				found = m
				return true
			}
		}
		return false
	}, fmt.Sprintf("attempt %d of message %d recorded", attempts, id))
	return found
}

// awaitStatus waits for the message with the ID to have the status, and returns it.
func (e *waEnv) awaitStatus(id int64, status store.OutboxStatus) *service.OutboxView {
	e.t.Helper()
	var found *service.OutboxView
	e.await(func() bool {
		for _, m := range e.outbox() {
			if m.ID == id && m.Status == status {
				found = m
				return true
			}
		}
		return false
	}, fmt.Sprintf("message %d %s", id, status))
	return found
}

func (e *waEnv) broadcast(body string) *service.BroadcastView {
	b, err := e.svc.Broadcast(e.ctx, "acme", request[service.BroadcastRequest](e.t, body))
	require.NoError(e.t, err)
	return b
}

// status returns the contact's status, or "none" for a contact the workspace doesn't know.
func (e *waEnv) status(urn string) string {
	c, err := e.svc.Contact(e.ctx, "acme", urn)
	if service.KindOf(err) == service.NotFound {
		return "none"
	}
	require.NoError(e.t, err)
	return string(c.OptStatus)
}

func TestWhatsAppSettings(t *testing.T) {
	e := newWhatsApp(t)
	view, err := e.svc.GetWorkspace(e.ctx, "acme")
	require.NoError(t, err)
	require.NotNil(t, view.WhatsApp)
	assert.Equal(t, phoneID, view.WhatsApp.PhoneNumberID)
	assert.Equal(t, service.Redacted, view.WhatsApp.AccessToken)
	assert.Equal(t, service.Redacted, view.WhatsApp.AppSecret)
	assert.Equal(t, verifyToken, view.WhatsApp.VerifyToken)
	assert.Equal(t, float64(whatsapp.DefaultThroughput), *view.WhatsApp.Throughput, "Meta's default")
	shown, _ := json.Marshal(view)
	assert.NotContains(t, string(shown), accessToken)
	assert.NotContains(t, string(shown), appSecret)

	// absent, the connection is kept; {} removes it
	view, _, err = e.svc.PutWorkspace(e.ctx, "acme", request[service.WorkspaceRequest](t, `{"name": "Acme"}`))
	require.NoError(t, err)
	assert.NotNil(t, view.WhatsApp)
	view, _, err = e.svc.PutWorkspace(e.ctx, "acme", request[service.WorkspaceRequest](t, `{"whatsapp": {}}`))
	require.NoError(t, err)
	assert.Nil(t, view.WhatsApp)

	valid := map[string]any{"phone_number_id": phoneID, "access_token": accessToken, "app_secret": appSecret, "verify_token": verifyToken}
	for field, tc := range map[string]struct {
		value any
		want  string
	}{
		"phone_number_id": {"", "whatsapp.phone_number_id: is required"},
		"waba_id":         {"WABA-1", `whatsapp.waba_id: "WABA-1" is not a Meta ID`},
		"access_token":    {service.Redacted, "whatsapp.access_token: is the redacted placeholder"},
		"app_secret":      {"", "whatsapp.app_secret: is required"},
		"verify_token":    {"bell\x07", "whatsapp.verify_token: "},
		"throughput":      {1500, "whatsapp.throughput: must be more than 0 and at most 1000 messages a second, not 1500"},
	} {
		wa := map[string]any{}
		for k, v := range valid {
			wa[k] = v
		}
		wa[field] = tc.value
		body, _ := json.Marshal(map[string]any{"whatsapp": wa})
		_, _, err := e.svc.PutWorkspace(e.ctx, "acme", request[service.WorkspaceRequest](t, string(body)))
		assert.Equal(t, service.Unprocessable, service.KindOf(err), field)
		assert.ErrorContains(t, err, tc.want, field)
	}
}

func TestWhatsAppHandshake(t *testing.T) {
	e := newWhatsApp(t)
	query := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {"1158201444"}}
	challenge, err := e.svc.WhatsAppHandshake(e.ctx, "acme", query)
	require.NoError(t, err)
	assert.Equal(t, "1158201444", challenge)

	query.Set("hub.verify_token", "guessed")
	_, err = e.svc.WhatsAppHandshake(e.ctx, "acme", query)
	assert.ErrorIs(t, err, service.ErrHandshake)
	_, err = e.svc.WhatsAppHandshake(e.ctx, "nobody", query)
	assert.ErrorIs(t, err, service.ErrHandshake)
}

// A notification that isn't signed with the workspace's app secret is refused and nothing of it is kept.
func TestWhatsAppSignature(t *testing.T) {
	e := newWhatsApp(t)
	e.run()
	body := account.Notification(graphtest.Text{Sender: e.sender("5511987650001"), Body: "PARAR"})
	for name, signature := range map[string]string{
		"another secret": whatsapp.Signature(body, "another-secret"),
		"none":           "",
		"not hex":        "sha256=zz",
	} {
		_, err := e.svc.ReceiveWhatsApp(e.ctx, "acme", body, signature)
		assert.ErrorIs(t, err, service.ErrSignature, name)
	}
	_, err := e.svc.ReceiveWhatsApp(e.ctx, "nobody", body, whatsapp.Signature(body, appSecret))
	assert.ErrorIs(t, err, service.ErrSignature)
	_, err = e.svc.ReceiveWhatsApp(e.ctx, "acme", []byte(`{"object": "page"}`), whatsapp.Signature([]byte(`{"object": "page"}`), appSecret))
	assert.Equal(t, service.Invalid, service.KindOf(err))

	time.Sleep(50 * time.Millisecond) // the workers had every chance to act on something
	_, err = e.svc.Contact(e.ctx, "acme", "whatsapp:5511987650001")
	assert.Equal(t, service.NotFound, service.KindOf(err))
	assert.Empty(t, e.outbox())
}

// A keyword from WhatsApp goes the way of one from the API, and its reply goes out through the Cloud API. Meta
// delivering the notification again changes nothing.
func TestWhatsAppKeyword(t *testing.T) {
	e := newWhatsApp(t)
	e.run()
	ana := "whatsapp:5511987650001"
	parar := graphtest.Text{Sender: e.sender("5511987650001"), Body: "PARAR"}
	parar.ID = "wamid.HBgNNTUxMTk4NzY1MDAwMRUCABIYFjNFQjBDMEE0QjZGQjg3M0U3NEJCAA=="
	assert.Equal(t, 1, e.notify(parar))

	e.await(func() bool { return len(e.graph.Accepted()) == 1 }, "the reply sent")
	req := e.graph.Accepted()[0]
	assert.Equal(t, whatsapp.APIVersion, req.Version)
	assert.Equal(t, phoneID, req.PhoneNumberID)
	assert.Equal(t, accessToken, req.Token)
	assert.Equal(t, "5511987650001", req.Message.To)
	assert.Equal(t, "text", req.Message.Type)
	assert.Equal(t, "Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!", req.Message.Text.Body)

	assert.Equal(t, "opted_out", e.status(ana))
	events := e.events("acme", ana)
	require.Len(t, events, 1)
	assert.Equal(t, store.SourceKeyword, events[0].Source)
	assert.Equal(t, "parar", events[0].Keyword)
	contact, err := e.svc.Contact(e.ctx, "acme", ana)
	require.NoError(t, err)
	assert.Equal(t, "Ana", contact.Name, "the profile name")
	assert.Equal(t, e.clock().Truncate(time.Second), *contact.LastInboundOn, "the message's timestamp")

	out := e.outbox()
	require.Len(t, out, 1)
	assert.Equal(t, "optout:"+fmt.Sprint(out[0].ID), req.Message.CallbackData, "statuses find the message even without its wamid")
	sent := e.awaitStatus(out[0].ID, store.OutboxAccepted)
	assert.Equal(t, req.WAMID, sent.WAMID)
	assert.Equal(t, 1, sent.Attempts)

	// again, as Meta redelivers: nothing new
	assert.Zero(t, e.notify(parar))
	time.Sleep(50 * time.Millisecond)
	assert.Len(t, e.events("acme", ana), 1)
	assert.Len(t, e.graph.Requests(), 1)
	assert.Len(t, e.outbox(), 1)
}

// What Meta delivered is kept before it is acted on: a process that stops in between, having answered Meta, leaves it
// for the next one, which acts on it once.
func TestWhatsAppKeptBeforeActedOn(t *testing.T) {
	e := newWhatsApp(t)
	ana := "whatsapp:5511987650001"
	assert.Equal(t, 1, e.notify(graphtest.Text{Sender: e.sender("5511987650001"), Body: "PARAR"}))
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, "none", e.status(ana), "no worker ran")

	e.svc = e.newService() // the process that kept it is gone
	e.run()
	e.await(func() bool { return e.status(ana) == "opted_out" }, "the opt-out")
	e.await(func() bool { return len(e.graph.Accepted()) == 1 }, "the reply sent")
	time.Sleep(50 * time.Millisecond)
	assert.Len(t, e.events("acme", ana), 1)
	assert.Len(t, e.outbox(), 1)
}

// A button whose payload or label is a keyword is one, with the source button; Meta's marketing opt-out button is one
// by default.
func TestWhatsAppButtons(t *testing.T) {
	e := newWhatsApp(t, `"buttons": {"opt_in": {"add": {"any": ["RESUME_OFFERS"]}}}`)
	e.run()
	ana, bia := "whatsapp:5511987650001", "whatsapp:5511987650002"

	e.notify(graphtest.Button{Sender: e.sender("5511987650001"), Text: "Parar promoções", Payload: "Parar promoções", ReplyTo: "wamid.template"})
	e.await(func() bool { return len(e.events("acme", ana)) == 1 }, "the button's opt-out")
	events := e.events("acme", ana)
	assert.Equal(t, store.SourceButton, events[0].Source)
	assert.Equal(t, "parar promoções", events[0].Keyword)
	assert.Equal(t, "por", events[0].Language)
	e.await(func() bool { return len(e.graph.Accepted()) == 1 }, "the reply")

	// a reply button's payload, whatever its title
	e.notify(graphtest.ButtonReply{Sender: e.sender("5511987650001"), ReplyID: "RESUME_OFFERS", Title: "Sim, quero!"})
	e.await(func() bool { return e.status(ana) == "opted_in" }, "the button's opt-in")
	assert.Equal(t, store.SourceButton, e.events("acme", ana)[1].Source)

	// a list row that is no keyword is a message like any other
	e.notify(graphtest.ListReply{Sender: e.sender("5511987650002"), ReplyID: "row-1", Title: "Entregas"})
	e.await(func() bool {
		c, err := e.svc.Contact(e.ctx, "acme", bia)
		return err == nil && c.LastInboundOn != nil
	}, "the list reply handled")
	assert.Empty(t, e.events("acme", bia))
}

// Statuses move a message forward, found by wamid or by the callback data, and never back.
func TestWhatsAppStatuses(t *testing.T) {
	e := newWhatsApp(t, `"templates": {"order_update": "UTILITY"}`)
	e.run()
	e.broadcast(`{"urns": ["whatsapp:5511987650001", "whatsapp:5511987650002"], "template": {"name": "order_update", "language": "pt_BR",
		"components": [{"type": "body", "parameters": [{"type": "text", "text": "#1234"}]}]}}`)
	e.await(func() bool { return len(e.graph.Accepted()) == 2 }, "both sent")
	reqs := e.graph.Accepted() // in the order of the outbox, which their sends needn't keep
	if reqs[0].Message.To != "5511987650001" {
		reqs[0], reqs[1] = reqs[1], reqs[0]
	}
	assert.Equal(t, "template", reqs[0].Message.Type)
	assert.Equal(t, "order_update", reqs[0].Message.Template.Name)
	assert.Equal(t, "pt_BR", reqs[0].Message.Template.Language.Code)
	assert.JSONEq(t, `[{"type": "body", "parameters": [{"type": "text", "text": "#1234"}]}]`, string(reqs[0].Message.Template.Components))
	out := e.outbox()
	e.awaitStatus(out[0].ID, store.OutboxAccepted)
	e.awaitStatus(out[1].ID, store.OutboxAccepted)

	first := graphtest.Status{ID: reqs[0].WAMID, RecipientID: "5511987650001", At: e.clock()}
	for _, status := range []string{"sent", "delivered", "read"} {
		first.Status = status
		e.notify(first)
	}
	e.awaitStatus(out[0].ID, store.OutboxRead)
	first.Status = "delivered" // late
	first.At = e.clock().Add(time.Second)
	e.notify(first)

	// a status found by its callback data, about an earlier send of the message, is stale
	second := graphtest.Status{ID: reqs[1].WAMID, RecipientID: "5511987650002", Status: "delivered", At: e.clock(), CallbackData: reqs[1].Message.CallbackData}
	e.notify(second)
	e.awaitStatus(out[1].ID, store.OutboxDelivered)
	stale := graphtest.Status{ID: "wamid.of-an-earlier-send", RecipientID: "5511987650002", Status: "read", At: e.clock(), CallbackData: reqs[1].Message.CallbackData}
	e.notify(stale)

	// someone else's message on the same number
	e.notify(graphtest.Status{ID: "wamid.not-ours", RecipientID: "5511987650003", Status: "read", At: e.clock()})
	time.Sleep(50 * time.Millisecond)
	out = e.outbox()
	assert.Equal(t, store.OutboxRead, out[0].Status)
	assert.Equal(t, store.OutboxDelivered, out[1].Status)
}

// Meta refusing a marketing template because the user stopped the business's marketing opts the contact out, audited
// and notified, without a reply, and the next MARKETING broadcast skips the contact.
func TestWhatsAppMarketingStop(t *testing.T) {
	e := newWhatsApp(t, `"templates": {"promo": "MARKETING"}`)
	e.run()
	ana := "whatsapp:5511987650001"
	e.broadcast(`{"urns": ["` + ana + `"], "template": {"name": "promo"}}`)
	e.await(func() bool { return len(e.graph.Accepted()) == 1 }, "the template sent")
	req := e.graph.Accepted()[0]
	assert.Equal(t, "pt_BR", req.Message.Template.Language.Code, "the workspace's default language's")

	failed := graphtest.Failed(req.WAMID, "5511987650001", graphtest.MarketingOptOut)
	failed.At, failed.CallbackData = e.clock(), req.Message.CallbackData // which Meta's statuses carry
	e.notify(failed)
	e.await(func() bool { return len(e.events("acme", ana)) == 1 }, "the opt-out")
	events := e.events("acme", ana)
	assert.Equal(t, store.SourceWhatsAppMarketingStop, events[0].Source)
	assert.Equal(t, "opted_out", events[0].After)
	assert.Equal(t, "opted_out", e.status(ana))
	assert.Len(t, e.webhooks("acme"), 1, "notified")
	out := e.awaitStatus(e.outbox()[0].ID, store.OutboxFailed)
	assert.Equal(t, service.ReasonMarketingStopped, out.Reason)
	assert.Contains(t, out.Error, "131050")

	// Meta delivering it again changes nothing, and nothing was said to the contact
	failed.At = failed.At.Add(time.Second)
	e.notify(failed)
	time.Sleep(50 * time.Millisecond)
	assert.Len(t, e.events("acme", ana), 1)
	assert.Len(t, e.outbox(), 1)

	b := e.broadcast(`{"urns": ["` + ana + `"], "template": {"name": "promo"}}`)
	assert.Equal(t, 1, b.Skipped["opted_out"])
}

// 131047 fails the message and closes the contact's window, which the service thought open.
func TestWhatsAppWindowClosed(t *testing.T) {
	e := newWhatsApp(t)
	e.run()
	ana := "whatsapp:5511987650001"
	e.graph.Fail(graphtest.To("5511987650001"), 1, graphtest.Reengagement)
	e.notify(graphtest.Text{Sender: e.sender("5511987650001"), Body: "#voltar"})
	e.await(func() bool { return len(e.graph.Requests()) == 1 }, "the reply tried")
	out := e.awaitStatus(e.outbox()[0].ID, store.OutboxFailed)
	assert.Equal(t, "window_closed", out.Reason)

	e.await(func() bool {
		c, err := e.svc.Contact(e.ctx, "acme", ana)
		return err == nil && !c.LastInboundOn.After(e.clock().Add(-24*time.Hour))
	}, "the window closed")
	b := e.broadcast(`{"urns": ["` + ana + `"], "text": "Oferta!"}`)
	assert.Equal(t, 1, b.Skipped["window_closed"])
}

// 131049 puts a message off by a day, then two, then four, as Meta asks, and then fails it.
func TestWhatsAppMarketingLimit(t *testing.T) {
	e := newWhatsApp(t, `"templates": {"promo": "MARKETING"}`)
	e.run()
	e.graph.Fail(graphtest.Any, 0, graphtest.MarketingLimit)
	e.broadcast(`{"urns": ["whatsapp:5511987650001"], "template": {"name": "promo"}}`)
	id := e.outbox()[0].ID

	for day, wait := range []time.Duration{24 * time.Hour, 48 * time.Hour, 96 * time.Hour} {
		m := e.awaitRecorded(id, day+1)
		assert.Equal(t, store.OutboxQueued, m.Status, "put off")
		assert.Contains(t, m.Error, "131049")
		e.advance(wait - time.Minute)
		time.Sleep(30 * time.Millisecond)
		assert.Len(t, e.graph.Requests(), day+1, "not before its time")
		e.advance(time.Minute)
	}
	out := e.awaitStatus(id, store.OutboxFailed)
	assert.Equal(t, service.ReasonMarketingLimit, out.Reason)
	assert.Len(t, e.graph.Requests(), 4)
}

// A failure Meta reports in a status webhook, after it took the message, is applied as the same failure in its answer
// to the send is: 131047 fails the message and closes the window, 131026 fails it, 131049 puts it off by a day.
func TestWhatsAppFailedStatuses(t *testing.T) {
	tcs := []struct {
		failure graphtest.Failure
		status  store.OutboxStatus
		reason  string
	}{
		{graphtest.Reengagement, store.OutboxFailed, "window_closed"},
		{graphtest.Undeliverable, store.OutboxFailed, service.ReasonUndeliverable},
		{graphtest.MarketingLimit, store.OutboxQueued, ""},
	}
	for _, tc := range tcs {
		t.Run(fmt.Sprint(tc.failure.Code), func(t *testing.T) {
			e := newWhatsApp(t, `"templates": {"promo": "MARKETING"}`)
			e.run()
			ana := "whatsapp:5511987650001"
			e.notify(graphtest.Text{Sender: e.sender("5511987650001"), Body: "Oi"})
			e.await(func() bool {
				c, err := e.svc.Contact(e.ctx, "acme", ana)
				return err == nil && !c.LastInboundOn.IsZero()
			}, "Ana wrote")
			e.broadcast(`{"urns": ["` + ana + `"], "template": {"name": "promo"}}`)
			e.await(func() bool { return len(e.graph.Accepted()) == 1 }, "the template sent")
			req := e.graph.Accepted()[0]
			id := e.outbox()[0].ID
			e.awaitStatus(id, store.OutboxAccepted)

			failed := graphtest.Failed(req.WAMID, "5511987650001", tc.failure)
			failed.At, failed.CallbackData = e.clock(), req.Message.CallbackData
			e.notify(failed)
			out := e.awaitStatus(id, tc.status)
			assert.Equal(t, tc.reason, out.Reason)
			assert.Contains(t, out.Error, fmt.Sprint(tc.failure.Code))
			assert.Equal(t, "", e.status(ana), "no consent change")

			if tc.failure == graphtest.Reengagement {
				e.await(func() bool {
					c, err := e.svc.Contact(e.ctx, "acme", ana)
					return err == nil && !c.LastInboundOn.After(e.clock().Add(-24*time.Hour))
				}, "the window closed, as it was in fact")
			}
			b := e.broadcast(`{"urns": ["` + ana + `"], "text": "Oferta!", "dry_run": true}`)
			assert.Equal(t, tc.failure == graphtest.Reengagement, b.Skipped["window_closed"] == 1, "the window is closed after 131047 only: Ana wrote a moment ago")
		})
	}
}

// 429s and 5xx are retried with backoff, until Meta takes the message; other 4xx are not.
func TestWhatsAppRetries(t *testing.T) {
	e := newWhatsApp(t)
	e.run()
	e.graph.Fail(graphtest.To("5511987650001"), 1, graphtest.Throughput)
	e.graph.Fail(graphtest.To("5511987650001"), 1, graphtest.BadGateway)
	e.graph.Fail(graphtest.To("5511987650001"), 1, graphtest.Dropped)
	e.graph.Fail(graphtest.To("5511987650002"), 1, graphtest.Undeliverable)
	e.notify(graphtest.Text{Sender: e.sender("5511987650001"), Body: "#voltar"}, graphtest.Text{Sender: e.sender("5511987650002"), Body: "#voltar"})

	e.await(func() bool { return len(e.outbox()) == 2 }, "both replies queued")
	var ana, bia int64
	for _, m := range e.outbox() {
		if m.URN == "whatsapp:5511987650001" {
			ana = m.ID
		} else {
			bia = m.ID
		}
	}
	out := e.awaitStatus(bia, store.OutboxFailed)
	assert.Equal(t, service.ReasonUndeliverable, out.Reason)

	for try, want := range []string{"130429", "502", "no response"} {
		m := e.awaitRecorded(ana, try+1)
		assert.Equal(t, store.OutboxQueued, m.Status)
		assert.Contains(t, m.Error, want)
		e.advance(10 * time.Minute)
	}
	out = e.awaitStatus(ana, store.OutboxAccepted)
	assert.Equal(t, 4, out.Attempts)
	assert.Len(t, e.graph.Requests(), 5, "one for the undeliverable one")
}

// A token Meta refuses stops the workspace's sending, without failing its messages, until the workspace is changed.
func TestWhatsAppAccountRefused(t *testing.T) {
	e := newWhatsApp(t)
	e.graph.AddPhone(phoneID, "a-token-Meta-knows") // the workspace's is no longer valid
	e.run()
	e.notify(graphtest.Text{Sender: e.sender("5511987650001"), Body: "#voltar"}, graphtest.Text{Sender: e.sender("5511987650002"), Body: "#voltar"})
	e.await(func() bool { return len(e.graph.Requests()) >= 1 }, "a try")
	time.Sleep(50 * time.Millisecond)
	refused := len(e.graph.Requests())
	assert.LessOrEqual(t, refused, 2, "what was in flight")
	time.Sleep(50 * time.Millisecond)
	assert.Len(t, e.graph.Requests(), refused, "a refusal pauses the workspace")
	for _, m := range e.outbox() {
		assert.Equal(t, store.OutboxQueued, m.Status)
	}

	body := fmt.Sprintf(`{"whatsapp": {"phone_number_id": %q, "access_token": "a-token-Meta-knows", "app_secret": %q, "verify_token": %q}}`, phoneID, appSecret, verifyToken)
	_, _, err := e.svc.PutWorkspace(e.ctx, "acme", request[service.WorkspaceRequest](t, body))
	require.NoError(t, err)
	e.advance(time.Hour)
	e.await(func() bool { return len(e.graph.Accepted()) == 2 }, "both sent once fixed")
}

// A contact who opted out between a broadcast and its sending isn't sent it.
func TestWhatsAppDecidesAgainAtSendTime(t *testing.T) {
	e := newWhatsApp(t, `"templates": {"promo": "MARKETING", "receipt": "UTILITY"}`)
	ana, bia := "whatsapp:5511987650001", "whatsapp:5511987650002"
	e.broadcast(`{"urns": ["` + ana + `", "` + bia + `"], "template": {"name": "promo"}}`)
	e.broadcast(`{"urns": ["` + ana + `"], "template": {"name": "receipt"}}`)
	_, err := e.svc.SetConsent(e.ctx, "acme", ana, &service.ConsentRequest{Status: "opted_out"})
	require.NoError(t, err)

	e.run()
	e.await(func() bool { return len(e.graph.Accepted()) == 2 }, "the others sent")
	for _, m := range e.outbox() {
		switch {
		case m.URN == "whatsapp:5511987650001" && m.Template == "promo":
			assert.Equal(t, store.OutboxSkipped, m.Status)
			assert.Equal(t, "opted_out", m.Reason)
		default:
			e.awaitStatus(m.ID, store.OutboxAccepted)
		}
	}
}

// Stopping and resuming marketing in WhatsApp opts the contact out and back in, audited and notified, with no reply.
func TestWhatsAppUserPreferences(t *testing.T) {
	e := newWhatsApp(t)
	e.run()
	ana := "whatsapp:5511987650001"
	stop := graphtest.Preference{WAID: "5511987650001", Name: "Ana", Value: "stop", At: e.clock()}
	e.notify(stop)
	e.await(func() bool { return e.status(ana) == "opted_out" }, "stopped")
	e.notify(graphtest.Preference{WAID: "5511987650001", Value: "resume", At: e.clock().Add(time.Minute)})
	e.await(func() bool { return e.status(ana) == "opted_in" }, "resumed")

	assert.Zero(t, e.notify(stop), "a redelivery")
	time.Sleep(50 * time.Millisecond)
	events := e.events("acme", ana)
	require.Len(t, events, 2)
	for _, ev := range events {
		assert.Equal(t, store.SourceWhatsAppUserPreferences, ev.Source)
	}
	assert.Len(t, e.webhooks("acme"), 2)
	assert.Empty(t, e.outbox(), "no reply")
	assert.Equal(t, "opted_in", e.status(ana))
}

// Meta moving a template to MARKETING blocks it for opted-out contacts from that moment, without anyone editing the
// configuration; a change announced for later waits for its time.
func TestWhatsAppTemplateCategoryUpdate(t *testing.T) {
	e := newWhatsApp(t, `"templates": {"order_update": "UTILITY", "welcome": "UTILITY"}`)
	e.run()
	ana := "whatsapp:5511987650001"
	_, err := e.svc.SetConsent(e.ctx, "acme", ana, &service.ConsentRequest{Status: "opted_out"})
	require.NoError(t, err)
	assert.Equal(t, 1, e.broadcast(`{"urns": ["`+ana+`"], "template": {"name": "order_update"}, "dry_run": true}`).Sent)

	e.notify(graphtest.CategoryUpdate{TemplateID: 278077987957091, Name: "order_update", Language: "pt_BR", Previous: "UTILITY", New: "MARKETING"},
		graphtest.CategoryUpdate{TemplateID: 278077987957092, Name: "welcome", Language: "pt_BR", New: "UTILITY", Correct: "MARKETING", EffectiveAt: e.clock().Add(time.Hour)})
	e.await(func() bool {
		view, err := e.svc.GetWorkspace(e.ctx, "acme")
		return err == nil && view.Templates["order_update"] == "MARKETING"
	}, "the templates map updated")
	assert.Equal(t, 1, e.broadcast(`{"urns": ["` + ana + `"], "template": {"name": "order_update"}, "dry_run": true}`).Skipped["opted_out"])

	changes, _, err := e.svc.TemplateChanges(e.ctx, "acme", 0, 10)
	require.NoError(t, err)
	require.Len(t, changes, 2)
	assert.Equal(t, "order_update", changes[0].Template)
	assert.Equal(t, "UTILITY", changes[0].PreviousCategory)
	assert.NotNil(t, changes[0].AppliedOn)
	assert.True(t, changes[1].Announced)
	assert.Nil(t, changes[1].AppliedOn)
	view, err := e.svc.GetWorkspace(e.ctx, "acme")
	require.NoError(t, err)
	assert.Equal(t, "CUST_SERVICE", view.Templates["welcome"], "not yet: UTILITY, in the rules' name")

	e.advance(time.Hour)
	e.await(func() bool {
		view, err := e.svc.GetWorkspace(e.ctx, "acme")
		return err == nil && view.Templates["welcome"] == "MARKETING"
	}, "the announced change applied at its time")
	assert.Equal(t, 1, e.broadcast(`{"urns": ["` + ana + `"], "template": {"name": "welcome"}, "dry_run": true}`).Skipped["opted_out"])
}

// Without a connection, the outbox is what the API's callers send, as before: nothing reaches Meta.
func TestWhatsAppUnconnectedWorkspace(t *testing.T) {
	e := newWhatsApp(t)
	e.run()
	e.workspace("plain", `{}`)
	r := e.message("plain", "whatsapp:5511987650001", "parar")
	require.Len(t, r.Replies, 1)
	time.Sleep(50 * time.Millisecond)
	msgs, _, err := e.svc.Outbox(e.ctx, "plain", 0, 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, store.OutboxUnsent, msgs[0].Status)
	assert.Empty(t, e.graph.Requests())
}

// Events for another phone number of the account are not the workspace's.
func TestWhatsAppOtherPhoneNumber(t *testing.T) {
	e := newWhatsApp(t)
	e.run()
	other := graphtest.Account{WABAID: wabaID, PhoneNumberID: "999999999999999"}
	body := other.Notification(graphtest.Text{Sender: e.sender("5511987650001"), Body: "parar"})
	n, err := e.svc.ReceiveWhatsApp(e.ctx, "acme", body, whatsapp.Signature(body, appSecret))
	require.NoError(t, err)
	assert.Zero(t, n)
}
