package service_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/dates"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/cluster"
	"github.com/optout-dev/optout/internal/strictjson"
	"github.com/optout-dev/optout/internal/testenv"
	"github.com/optout-dev/optout/metrics"
	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

// env is a service on a fresh embedded store, with a clock the test moves.
type env struct {
	t     *testing.T
	ctx   context.Context
	store store.Store
	svc   *service.Service
	logs  testenv.LockedBuffer // what the service logged, as JSON lines

	mu  sync.Mutex
	now time.Time
}

func newEnv(t *testing.T) *env {
	return newEnvWith(t, func(s store.Store) store.Store { return s })
}

// newEnvWith is newEnv on the store that wrap makes of the embedded one.
func newEnvWith(t *testing.T, wrap func(store.Store) store.Store) *env {
	ctx := context.Background()
	opened, err := store.Open(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { opened.Close() })
	st := wrap(opened)

	e := &env{t: t, ctx: ctx, store: st, now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}

	// goflow dates waits and field changes by its own clock, which has to agree with the service's
	dates.SetNowFunc(e.clock)
	t.Cleanup(func() { dates.SetNowFunc(time.Now) })
	e.svc = e.newService()
	return e
}

// newService is a service over the env's store, as a process started on it would be: with nothing in memory.
func (e *env) newService() *service.Service {
	log := slog.New(slog.NewJSONHandler(&e.logs, nil))
	coord, err := cluster.New("", e.store, log)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { coord.Close() })
	return service.New(service.Options{
		Store: e.store, Cluster: coord, Policy: &webhook.Policy{AllowPrivate: true}, Metrics: &metrics.Registry{}, Log: log, Now: e.clock,
	})
}

// logged returns the attributes of the first line the service logged with the message, nil if none was.
func (e *env) logged(msg string) map[string]any {
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var entry map[string]any
		require.NoError(e.t, json.Unmarshal([]byte(line), &entry), line)
		if entry["msg"] == msg {
			return entry
		}
	}
	return nil
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// workspace creates a workspace with the given configuration.
func (e *env) workspace(id string, config string) {
	_, created, err := e.svc.PutWorkspace(e.ctx, id, request[service.WorkspaceRequest](e.t, config))
	require.NoError(e.t, err)
	require.True(e.t, created)
}

// request decodes a request as the API does.
func request[T any](t *testing.T, body string) *T {
	req := new(T)
	require.NoError(t, strictjson.Unmarshal([]byte(body), req), body)
	return req
}

func (e *env) importFile(ws, path string) {
	data, err := os.ReadFile(path)
	require.NoError(e.t, err)
	_, err = e.svc.Import(e.ctx, ws, data)
	require.NoError(e.t, err)
}

// message sends a message and returns its result.
func (e *env) message(ws, urn, text string) *service.MessageResult {
	return e.messageWithUUID(ws, string(uuids.NewV4()), urn, text)
}

func (e *env) messageWithUUID(ws, uuid, urn, text string) *service.MessageResult {
	result, err := e.svc.HandleMessage(e.ctx, ws, &service.MessageRequest{UUID: uuid, URN: urn, Text: text})
	require.NoError(e.t, err)
	return result
}

func replies(r *service.MessageResult) []string {
	texts := make([]string, len(r.Replies))
	for i, reply := range r.Replies {
		texts[i] = reply.Text
	}
	return texts
}

// optOutList is the opt-out list the CSV is, checked.
func optOutList(t *testing.T, csv string) *service.OptOutList {
	list, err := service.ReadOptOutsCSV(strings.NewReader(csv))
	require.NoError(t, err)
	return list
}

func (e *env) events(ws, urn string) []*service.ConsentEventView {
	events, _, err := e.svc.ConsentEvents(e.ctx, ws, urn, 0, 100)
	require.NoError(e.t, err)
	return events
}

func (e *env) webhooks(ws string) []*service.WebhookEventView {
	hooks, _, err := e.svc.WebhookEvents(e.ctx, ws, "", 0, 100)
	require.NoError(e.t, err)
	return hooks
}

func TestMessages(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "a-secret-long-enough"}}`)
	e.importFile("acme", "../../shared/rapidpro-exports/rating_10.json")
	ana := "whatsapp:5511987650001"

	// an ordinary message from a new contact: nothing catches it, nothing answers
	r := e.message("acme", ana, "Olá")
	assert.Equal(t, "none", string(r.Intent))
	assert.False(t, r.Handled)
	assert.Empty(t, r.Replies)
	assert.Equal(t, "", string(r.Contact.OptStatus))

	// a keyword trigger starts the imported flow, which waits for an answer
	r = e.message("acme", ana, "rating")
	assert.Equal(t, []string{"How do you rate the experience? Answer with a number below 10"}, replies(r))
	_, err := e.store.WaitingSession(e.ctx, "acme", r.Contact.UUID)
	require.NoError(t, err)

	// an opt-out in the middle of it: the reply, and the flow is interrupted
	uuid := string(uuids.NewV4())
	r = e.messageWithUUID("acme", uuid, ana, "Parar!")
	assert.True(t, r.Handled)
	assert.Equal(t, "opt_out", string(r.Intent))
	assert.Equal(t, []string{"Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!"}, replies(r))
	assert.Equal(t, "opted_out", string(r.Contact.OptStatus))
	assert.Equal(t, []string{"Opted Out"}, r.Contact.Groups)
	_, err = e.store.WaitingSession(e.ctx, "acme", r.Contact.UUID)
	assert.ErrorIs(t, err, store.ErrNotFound)

	// so the next message doesn't go to the flow it left
	r = e.message("acme", ana, "7")
	assert.Empty(t, r.Replies)

	events := e.events("acme", ana)
	require.Len(t, events, 1)
	assert.Equal(t, "undefined", events[0].Before)
	assert.Equal(t, "opted_out", events[0].After)
	assert.Equal(t, "parar", events[0].Keyword)
	assert.Equal(t, "por", events[0].Language)
	assert.Equal(t, store.SourceKeyword, events[0].Source)
	assert.Equal(t, uuid, string(events[0].MsgUUID))

	hooks := e.webhooks("acme")
	require.Len(t, hooks, 1)
	assert.Equal(t, store.WebhookPending, hooks[0].Status)
	var body map[string]any
	require.NoError(t, json.Unmarshal(hooks[0].Body, &body))
	assert.Equal(t, "opt_out", body["event"])
	assert.Equal(t, map[string]any{"workspace": "acme", "name": "acme"}, body["client_info"])

	// the same message again: the same answer, nothing more
	again := e.messageWithUUID("acme", uuid, ana, "Parar!")
	assert.Equal(t, r.Contact.UUID, again.Contact.UUID)
	assert.Equal(t, "opt_out", string(again.Intent))
	assert.Len(t, e.events("acme", ana), 1)
	assert.Len(t, e.webhooks("acme"), 1)

	// saying it again changes nothing, but is answered
	r = e.message("acme", ana, "sair")
	assert.Len(t, r.Replies, 1)
	assert.Len(t, e.events("acme", ana), 1)

	// and back
	r = e.message("acme", ana, "#VOLVER")
	assert.Equal(t, []string{"Se ha concedido su solicitud para volver a la conversación! Bienvenido de nuevo!"}, replies(r))
	assert.Equal(t, "opted_in", string(r.Contact.OptStatus))
	assert.Empty(t, r.Contact.Groups)
	assert.Len(t, e.events("acme", ana), 2)
	assert.Len(t, e.webhooks("acme"), 2)

	contact, err := e.svc.Contact(e.ctx, "acme", ana)
	require.NoError(t, err)
	assert.Equal(t, "opted_in", contact.Fields["optout_status"])
	assert.Equal(t, e.clock(), *contact.LastInboundOn)
}

func TestFlowsChangeConsent(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "a-secret-long-enough"}}`)
	e.importFile("acme", "testdata/opt_out_button.json")
	ana := "whatsapp:5511987650001"

	r := e.message("acme", ana, "novidades")
	assert.Equal(t, []string{"Novidades toda semana! Responda 1 para não receber mais, 2 para continuar ou 3 para esquecer sua escolha."}, replies(r))

	// the flow's own opt_out action: audited as a flow's change, with no keyword
	r = e.message("acme", ana, "1")
	assert.False(t, r.Handled)
	assert.Equal(t, "opted_out", string(r.Contact.OptStatus))
	assert.Equal(t, []string{"Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!"}, replies(r))

	// a flow setting the field itself is audited too
	e.message("acme", ana, "novidades")
	r = e.message("acme", ana, "2")
	assert.Equal(t, "opted_in", string(r.Contact.OptStatus))

	// and one clearing it is audited, with no webhook as the business is told of opt-outs and opt-ins only
	e.message("acme", ana, "novidades")
	r = e.message("acme", ana, "3")
	assert.Equal(t, "", string(r.Contact.OptStatus))

	events := e.events("acme", "")
	require.Len(t, events, 3)
	assert.Equal(t, []string{"flow", "", "opted_out"}, []string{string(events[0].Source), events[0].Keyword, events[0].After})
	assert.Equal(t, []string{"flow", "", "opted_in"}, []string{string(events[1].Source), events[1].Keyword, events[1].After})
	assert.Equal(t, []string{"flow", "opted_in", "undefined"}, []string{string(events[2].Source), events[2].Before, events[2].After})
	assert.Len(t, e.webhooks("acme"), 2, "every opt-out and opt-in notifies, whatever made it")
}

func TestSetConsent(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"group": "Não Perturbe"}`)

	contact, err := e.svc.SetConsent(e.ctx, "acme", "whatsapp:5511987650009", &service.ConsentRequest{Status: "opted_out"})
	require.NoError(t, err)
	assert.Equal(t, "opted_out", string(contact.OptStatus))
	assert.Equal(t, []string{"Não Perturbe"}, contact.Groups)

	events := e.events("acme", "whatsapp:5511987650009")
	require.Len(t, events, 1)
	assert.Equal(t, store.SourceAPI, events[0].Source)

	_, err = e.svc.SetConsent(e.ctx, "acme", "whatsapp:5511987650009", &service.ConsentRequest{Status: "gone"})
	assert.EqualError(t, err, `status: "gone" is not opted_out or opted_in`)
	assert.Equal(t, service.Unprocessable, service.KindOf(err))
	_, err = e.svc.SetConsent(e.ctx, "acme", "nonsense", &service.ConsentRequest{Status: "opted_in"})
	assert.Equal(t, service.Invalid, service.KindOf(err))
}

// TestImport imports the plugin's exports and every real export as they are, into one workspace.
func TestImport(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{}`)

	files, err := filepath.Glob("../flows/*.json")
	require.NoError(t, err)
	real, err := filepath.Glob("../../shared/rapidpro-exports/*.json")
	require.NoError(t, err)
	require.Len(t, real, 12)

	for _, path := range append(files, real...) {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		result, err := e.svc.Import(e.ctx, "acme", data)
		require.NoError(t, err, path)
		assert.NotZero(t, result.Flows, path)
	}

	// the answer counts what the export holds, a group the workspace already had among them
	data, err := os.ReadFile("../flows/optout_portable.json")
	require.NoError(t, err)
	result, err := e.svc.Import(e.ctx, "acme", data)
	require.NoError(t, err)
	assert.Equal(t, service.ImportResult{Flows: 1, Fields: 3, Groups: 1, Warnings: []string{
		"global optout_url isn't in the workspace", "global optout_token isn't in the workspace"}}, *result)

	// and the workspace still works, with every flow readable
	r := e.message("acme", "whatsapp:5511987650001", "rating")
	assert.Equal(t, []string{"How do you rate the experience? Answer with a number below 10"}, replies(r))
	r = e.message("acme", "whatsapp:5511987650001", "Parar")
	assert.Equal(t, "opted_out", string(r.Contact.OptStatus))

	_, err = e.svc.Import(e.ctx, "acme", []byte(`{"version": "13", "flows": [{"uuid": "nope"}]}`))
	assert.Equal(t, service.Unprocessable, service.KindOf(err))
}

// TestImportDependencies: an import creates the fields and groups its flows use and neither it nor the workspace has,
// as RapidPro's does, and refuses one whose flows enter a flow that isn't there.
func TestImportDependencies(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{}`)
	flow := func(action string) string {
		return `{"version": "13", "flows": [{"uuid": "46151ba4-13ad-4017-b1c3-4fb3166f0588", "name": "Join", "spec_version": "13.0.0",
			"language": "eng", "type": "messaging", "nodes": [{"uuid": "7aa75346-2180-4d16-abc2-8591e08b626a", "actions": [` + action + `],
			"exits": [{"uuid": "6b565898-12c3-4eaf-b2bd-ab92c01cbb1d"}]}]}],
			"triggers": [{"trigger_type": "K", "keywords": ["join"], "flow": {"uuid": "46151ba4-13ad-4017-b1c3-4fb3166f0588", "name": "Join"}}]}`
	}

	result, err := e.svc.Import(e.ctx, "acme", []byte(flow(`
		{"uuid": "51971fc9-a6c7-47a0-82e7-c2d67dcd77fb", "type": "add_contact_groups", "groups": [{"uuid": "a18fff36-b1f9-483b-854e-72794904cc80", "name": "Customers"}]},
		{"uuid": "4a6f8186-95ae-486d-8602-5c8fe54d17e9", "type": "set_contact_field", "field": {"key": "age", "name": "Age"}, "value": "42"}`)))
	require.NoError(t, err)
	assert.Equal(t, []string{`group "Customers" a18fff36-b1f9-483b-854e-72794904cc80`, `field "Age" age`}, result.Created)

	r := e.message("acme", "whatsapp:5511987650001", "join")
	assert.Equal(t, []string{"Customers"}, r.Contact.Groups, "the group was created, so the flow could add the contact to it")
	contact, err := e.svc.Contact(e.ctx, "acme", "whatsapp:5511987650001")
	require.NoError(t, err)
	assert.Equal(t, "42", contact.Fields["age"])
	b, err := e.svc.Broadcast(e.ctx, "acme", &service.BroadcastRequest{Group: "Customers", Template: &service.TemplateRequest{Name: "x", Category: "OTP"}})
	require.NoError(t, err)
	assert.Equal(t, 1, b.Sent)

	_, err = e.svc.Import(e.ctx, "acme", []byte(flow(`
		{"uuid": "f2787ea0-d9a9-4494-a90e-229a4a9154dc", "type": "enter_flow", "flow": {"uuid": "7a4ef740-6c63-4adf-bd6f-218f529525ae", "name": "Child"}, "terminal": true}`)))
	assert.Equal(t, service.Unprocessable, service.KindOf(err))
	assert.ErrorContains(t, err, `flow "Child" 7a4ef740-6c63-4adf-bd6f-218f529525ae`)
}

// TestNoWebhookURLQueuesNothing: a workspace without a webhook URL has no one to notify, so its changes queue no
// webhook events (which would otherwise be retried for 25 hours); the audit log keeps them. A URL set later notifies
// of the changes from then on.
func TestNoWebhookURLQueuesNothing(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{}`)
	e.message("acme", "whatsapp:5511987650001", "parar")
	_, err := e.svc.SetConsent(e.ctx, "acme", "whatsapp:5511987650002", &service.ConsentRequest{Status: "opted_out"})
	require.NoError(t, err)
	assert.Len(t, e.events("acme", ""), 2)
	assert.Empty(t, e.webhooks("acme"))

	_, _, err = e.svc.PutWorkspace(e.ctx, "acme", request[service.WorkspaceRequest](t, `{"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "a-secret-long-enough"}}`))
	require.NoError(t, err)
	e.message("acme", "whatsapp:5511987650001", "#voltar")
	hooks := e.webhooks("acme")
	require.Len(t, hooks, 1)
	assert.Contains(t, string(hooks[0].Body), `"event":"opt_in"`)
}

// TestGroups: a business makes a group and puts contacts in it, to broadcast to it.
func TestGroups(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"templates": {"promo": "MARKETING"}}`)
	e.message("acme", "whatsapp:5511987650001", "parar")

	customers, err := e.svc.CreateGroup(e.ctx, "acme", &service.GroupRequest{Name: " Customers "})
	require.NoError(t, err)
	assert.Equal(t, "Customers", customers.Name)
	_, err = e.svc.CreateGroup(e.ctx, "acme", &service.GroupRequest{Name: "customers"})
	assert.Equal(t, service.Conflict, service.KindOf(err))
	assert.EqualError(t, err, `name: the workspace has a group named "customers"`)

	added, err := e.svc.AddToGroup(e.ctx, "acme", "customers", &service.MembersRequest{URNs: []string{
		"whatsapp:5511987650001", "tel:+5511987650001", "whatsapp:5511987650002", "whatsapp:5511987650003"}})
	require.NoError(t, err)
	assert.Equal(t, &service.MembersResult{Changed: 3, NewContacts: 2}, added, "the same person twice is one")
	again, err := e.svc.AddToGroup(e.ctx, "acme", "Customers", &service.MembersRequest{URNs: []string{"whatsapp:5511987650002"}})
	require.NoError(t, err)
	assert.Equal(t, &service.MembersResult{Unchanged: 1}, again)

	b, err := e.svc.Broadcast(e.ctx, "acme", &service.BroadcastRequest{Group: "Customers", Template: &service.TemplateRequest{Name: "promo"}})
	require.NoError(t, err)
	assert.Equal(t, 2, b.Sent)
	assert.Equal(t, 1, b.Skipped["opted_out"])

	removed, err := e.svc.RemoveFromGroup(e.ctx, "acme", "Customers", &service.MembersRequest{URNs: []string{"whatsapp:5511987650003", "whatsapp:5511987650099"}})
	require.NoError(t, err)
	assert.Equal(t, &service.MembersResult{Changed: 1, Unchanged: 1}, removed)
	contact, err := e.svc.Contact(e.ctx, "acme", "whatsapp:5511987650003")
	require.NoError(t, err)
	assert.Empty(t, contact.Groups)

	groups, err := e.svc.Groups(e.ctx, "acme")
	require.NoError(t, err)
	counts := map[string]int{}
	for _, g := range groups {
		counts[g.Name] = g.Count
	}
	assert.Equal(t, map[string]int{"Opted Out": 1, "Customers": 2}, counts)

	_, err = e.svc.AddToGroup(e.ctx, "acme", "Opted Out", &service.MembersRequest{URNs: []string{"whatsapp:5511987650002"}})
	assert.Equal(t, service.Unprocessable, service.KindOf(err), "the opted-out group follows consent")
	_, err = e.svc.AddToGroup(e.ctx, "acme", "Nobody", &service.MembersRequest{URNs: []string{"whatsapp:5511987650002"}})
	assert.Equal(t, service.NotFound, service.KindOf(err))
	_, err = e.svc.AddToGroup(e.ctx, "acme", "Customers", &service.MembersRequest{URNs: make([]string, service.MaxGroupMembersPerCall+1)})
	assert.EqualError(t, err, "urns: has 10001 URNs: give at most 10000 a call")
}

// TestWorkspaceEnvironment: a workspace's flows read dates as its people write them, where it is.
func TestWorkspaceEnvironment(t *testing.T) {
	flow := `{"version": "13", "flows": [{"uuid": "46151ba4-13ad-4017-b1c3-4fb3166f0588", "name": "Agenda", "spec_version": "13.0.0",
		"language": "por", "type": "messaging", "nodes": [{"uuid": "7aa75346-2180-4d16-abc2-8591e08b626a", "actions": [
			{"uuid": "51971fc9-a6c7-47a0-82e7-c2d67dcd77fb", "type": "send_msg", "text": "@(format_datetime(datetime(remove_first_word(input.text)), \"YYYY-MM-DD tt:mm\", \"UTC\"))"}],
		"exits": [{"uuid": "6b565898-12c3-4eaf-b2bd-ab92c01cbb1d"}]}]}],
		"triggers": [{"trigger_type": "K", "keywords": ["agendar"], "match_type": "F", "flow": {"uuid": "46151ba4-13ad-4017-b1c3-4fb3166f0588", "name": "Agenda"}}]}`
	for config, want := range map[string]string{
		`{"timezone": "America/Sao_Paulo", "date_format": "DD-MM-YYYY", "country": "BR"}`: "2026-12-05 17:30",
		`{"date_format": "MM-DD-YYYY"}`: "2026-05-12 14:30",
		`{}`:                            "",
	} {
		e := newEnv(t)
		e.workspace("clinic", config)
		_, err := e.svc.Import(e.ctx, "clinic", []byte(flow))
		require.NoError(t, err)
		r := e.message("clinic", "whatsapp:5511987650001", "agendar 05/12/2026 14:30")
		require.Len(t, r.Replies, 1, config)
		assert.Equal(t, want, r.Replies[0].Text, config)
	}
}

// TestRetention: answers are kept a week and delivered webhooks a month; the audit log for ever.
func TestRetention(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{}`)
	e.message("acme", "whatsapp:5511987650001", "parar")

	pruned, err := e.svc.Prune(e.ctx, service.DefaultRetention)
	require.NoError(t, err)
	assert.Zero(t, pruned["processed_messages"], "an answer a moment old")

	e.advance(7*24*time.Hour + time.Minute)
	pruned, err = e.svc.Prune(e.ctx, service.DefaultRetention)
	require.NoError(t, err)
	assert.Equal(t, int64(1), pruned["processed_messages"])
	assert.Len(t, e.events("acme", ""), 1, "the audit log is kept")
}

func TestWebhookDatesTheChangeAsTheAuditLogDoes(t *testing.T) {
	e := newEnv(t)
	e.now = time.Date(2026, 11, 21, 12, 0, 0, 123456789, time.UTC) // finer than the store keeps
	e.workspace("acme", `{"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "a-secret-long-enough"}}`)
	ana := "whatsapp:5511987650001"
	e.message("acme", ana, "parar")

	events := e.events("acme", ana)
	require.Len(t, events, 1)
	hooks := e.webhooks("acme")
	require.Len(t, hooks, 1)
	var body struct {
		Data struct {
			OccurredOn time.Time `json:"occurred_on"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(hooks[0].Body, &body))
	assert.Equal(t, events[0].OccurredOn, body.Data.OccurredOn, "one change, one instant")
	assert.Equal(t, time.Date(2026, 11, 21, 12, 0, 0, 123456000, time.UTC), body.Data.OccurredOn)
}
