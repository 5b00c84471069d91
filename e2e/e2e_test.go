// Package e2e runs `optout serve` as a process and talks to it as its users do: over HTTP, with a webhook receiver
// of its own. The same scenario runs on the embedded store and on PostgreSQL with Redis.
package e2e

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
)

const (
	adminToken = "admin-token-for-the-e2e-test"
	wsToken    = "workspace-token-for-the-e2e-test"
	secret     = "webhook-secret-for-the-e2e-test"
)

func TestServeEmbedded(t *testing.T) {
	runScenario(t, map[string]string{"OPTOUT_DATA_DIR": t.TempDir()})
}

func TestServePostgresRedis(t *testing.T) {
	runScenario(t, map[string]string{"OPTOUT_DB": testenv.PostgresSchema(t), "OPTOUT_REDIS": testenv.Redis(t)})
}

func runScenario(t *testing.T, env map[string]string) {
	receiver := newReceiver(t)
	env["OPTOUT_ADMIN_TOKEN"] = adminToken
	env["OPTOUT_WEBHOOK_ALLOW_PRIVATE"] = "true"
	srv := testenv.StartServe(t, env)
	admin := &client{t: t, base: srv.URL, token: adminToken}
	ws := "acme-" + string(uuids.NewV4())[:8]

	// a workspace with a webhook, and a flow that a keyword starts
	status, body := admin.do("PUT", "/v1/workspaces/"+ws, map[string]any{
		"name":      "Acme \"Lojas\"",
		"webhook":   map[string]string{"url": receiver.URL(), "secret": secret},
		"token":     wsToken,
		"templates": map[string]string{"promo": "MARKETING", "code": "AUTHENTICATION"},
	})
	require.Equal(t, http.StatusCreated, status, body)
	assert.Equal(t, "********", jsonPath(body, "webhook", "secret"), "the secret is never shown")
	assert.NotContains(t, body, secret)

	member := &client{t: t, base: srv.URL, token: wsToken}
	rating, err := os.ReadFile("../../shared/rapidpro-exports/rating_10.json")
	require.NoError(t, err)
	status, body = member.doRaw("POST", "/v1/workspaces/"+ws+"/import", rating)
	require.Equal(t, http.StatusOK, status, body)

	// PARAR: the Portuguese reply, opted out and in the group, and a signed webhook
	ana := "whatsapp:5511987650001"
	msgUUID := string(uuids.NewV4())
	status, body = member.do("POST", "/v1/workspaces/"+ws+"/messages", map[string]string{"uuid": msgUUID, "urn": ana, "text": "PARAR", "name": "Ana"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "opt_out", jsonPath(body, "intent"))
	assert.Equal(t, "por", jsonPath(body, "language"))
	assert.Equal(t, true, jsonPath(body, "handled"))
	assert.Equal(t, "Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!", jsonPath(body, "replies", 0, "text"))
	assert.Equal(t, "opted_out", jsonPath(body, "contact", "opt_status"))
	assert.Equal(t, []any{"Opted Out"}, jsonPath(body, "contact", "groups"))
	first := body

	hook := receiver.await(t, 1)[0]
	assert.Equal(t, "opt_out", jsonPath(hook.body, "event"))
	assert.Equal(t, "parar", jsonPath(hook.body, "data", "keyword"))
	assert.Equal(t, ana, jsonPath(hook.body, "data", "urn"))
	assert.Equal(t, msgUUID, jsonPath(hook.body, "data", "msg_uuid"))
	assert.Equal(t, ws, jsonPath(hook.body, "client_info", "workspace"))
	assert.Equal(t, "Acme \"Lojas\"", jsonPath(hook.body, "client_info", "name"))
	assert.NotEmpty(t, hook.eventID)

	// the same message again: the first answer, and nothing changes
	status, body = member.do("POST", "/v1/workspaces/"+ws+"/messages", map[string]string{"uuid": msgUUID, "urn": ana, "text": "PARAR"})
	require.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, first, body)

	// a marketing template skips the contact, an OTP one reaches it
	status, body = member.do("POST", "/v1/workspaces/"+ws+"/broadcasts", map[string]any{"urns": []string{ana}, "template": map[string]string{"name": "promo"}})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, float64(0), jsonPath(body, "sent"))
	assert.Equal(t, float64(1), jsonPath(body, "skipped", "opted_out"))
	assert.Equal(t, "opted_out", jsonPath(body, "recipients", 0, "reason"))
	status, body = member.do("POST", "/v1/workspaces/"+ws+"/broadcasts", map[string]any{"urns": []string{ana}, "template": map[string]string{"name": "code"}})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, float64(1), jsonPath(body, "sent"))

	// free text to a contact silent for 25 hours is skipped
	bruno := "whatsapp:5511987650002"
	status, body = member.do("POST", "/v1/workspaces/"+ws+"/messages", map[string]string{"uuid": string(uuids.NewV4()), "urn": bruno, "text": "oi",
		"received_on": time.Now().Add(-25 * time.Hour).UTC().Format(time.RFC3339)})
	require.Equal(t, http.StatusOK, status, body)
	status, body = member.do("POST", "/v1/workspaces/"+ws+"/broadcasts", map[string]any{"urns": []string{bruno}, "text": "Promoção!"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, float64(1), jsonPath(body, "skipped", "window_closed"))

	// #voltar: welcome back, and an opt_in webhook
	status, body = member.do("POST", "/v1/workspaces/"+ws+"/messages", map[string]string{"uuid": string(uuids.NewV4()), "urn": ana, "text": "#voltar"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!", jsonPath(body, "replies", 0, "text"))
	assert.Equal(t, "opted_in", jsonPath(body, "contact", "opt_status"))
	hooks := receiver.await(t, 2)
	assert.Equal(t, "opt_in", jsonPath(hooks[1].body, "event"))

	// a message that isn't a keyword runs the imported flow
	status, body = member.do("POST", "/v1/workspaces/"+ws+"/messages", map[string]string{"uuid": string(uuids.NewV4()), "urn": bruno, "text": "rating"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, false, jsonPath(body, "handled"))
	assert.Equal(t, "How do you rate the experience? Answer with a number below 10", jsonPath(body, "replies", 0, "text"))

	// a change whose webhook can't be delivered yet
	receiver.setMode("fail")
	carla := "whatsapp:5511987650003"
	status, body = member.do("POST", "/v1/workspaces/"+ws+"/messages", map[string]string{"uuid": string(uuids.NewV4()), "urn": carla, "text": "sair"})
	require.Equal(t, http.StatusOK, status, body)
	require.Eventually(t, func() bool { return receiver.failures() > 0 }, 30*time.Second, 100*time.Millisecond, "the receiver was tried")

	// restart: state, audit log and the pending webhook are all still there
	srv.Restart(t)
	receiver.setMode("ok")

	status, body = member.do("GET", "/v1/workspaces/"+ws+"/contacts/"+ana, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "opted_in", jsonPath(body, "opt_status"))
	assert.NotNil(t, jsonPath(body, "last_inbound_on"))
	assert.Equal(t, "opted_in", jsonPath(body, "fields", "optout_status"))

	status, body = member.do("GET", "/v1/workspaces/"+ws+"/events", nil)
	require.Equal(t, http.StatusOK, status, body)
	events := jsonPath(body, "results").([]any)
	require.Len(t, events, 3)
	assert.Equal(t, []any{"undefined", "opted_out", "parar", "keyword"}, []any{jsonPath(body, "results", 0, "before"), jsonPath(body, "results", 0, "after"), jsonPath(body, "results", 0, "keyword"), jsonPath(body, "results", 0, "source")})
	assert.Equal(t, "#voltar", jsonPath(body, "results", 1, "keyword"))
	assert.Equal(t, carla, jsonPath(body, "results", 2, "urn"))

	hooks = receiver.await(t, 3)
	assert.Equal(t, carla, jsonPath(hooks[2].body, "data", "urn"), "the webhook pending at the restart was delivered after it")

	status, body = member.do("GET", "/v1/workspaces/"+ws+"/optouts", nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, carla, jsonPath(body, "results", 0, "urn"))
	assert.Len(t, jsonPath(body, "results"), 1)
}
