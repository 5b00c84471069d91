package flows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nyaruka/goflow/envs"
	goflows "github.com/nyaruka/goflow/flows"
	goengine "github.com/nyaruka/goflow/flows/engine"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/triggers"
	"github.com/nyaruka/goflow/services/webhooks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/fixtures"
	"github.com/optout-dev/optout/flows"
	"github.com/optout-dev/optout/internal/testenv"
)

// TestStockPlatformRecordsInTheService is a platform that can't take the plugin (TextIt, Weni, stock RapidPro): stock
// goflow, with goflow's own HTTP webhook service, runs the portable flow, whose call_webhook step records each change
// in a running optout serve through the two globals. The service audits the change and notifies the business, whose
// signed webhook arrives; with the globals left empty the flow opts the contact out all the same, locally.
func TestStockPlatformRecordsInTheService(t *testing.T) {
	business := &receiver{}
	hooks := httptest.NewServer(business)
	t.Cleanup(hooks.Close)
	srv := testenv.StartServe(t, map[string]string{
		"OPTOUT_DATA_DIR": t.TempDir(), "OPTOUT_ADMIN_TOKEN": "the-admin-token-of-the-test", "OPTOUT_WEBHOOK_ALLOW_PRIVATE": "true",
	})
	put(t, srv.URL+"/v1/workspaces/acme", "the-admin-token-of-the-test", map[string]any{
		"token": "acme-token-0123456789", "webhook": map[string]string{"url": hooks.URL, "secret": "a-long-shared-secret"},
	})

	// the platform: stock goflow, its webhook service calling out over HTTP
	eng := goengine.NewBuilder().
		WithHTTPClient(http.DefaultClient).
		WithWebhookServiceFactory(webhooks.NewServiceFactory(map[string]string{"User-Agent": "stock-platform"}, 10000)).
		Build()
	env := envs.NewBuilder().WithAllowedLanguages("por", "spa", "eng").WithDefaultCountry("BR").Build()

	sa := portableAssetsWithGlobals(t, srv.URL+"/v1/workspaces/acme", "acme-token-0123456789")
	contact, err := fixtures.Contact(sa, "por")
	require.NoError(t, err)
	msg := events.NewMsgReceived(goflows.NewMsgIn(contact.URNs()[0].Identity(), nil, "PARAR", nil, ""), "")
	session, sprint, err := eng.NewSession(context.Background(), sa, env, contact, triggers.NewBuilder(portableFlow()).MsgReceived(msg).Build(), nil)
	require.NoError(t, err)
	assert.Equal(t, goflows.SessionStatusCompleted, session.Status())
	assert.Equal(t, "opted_out", fieldText(sa, contact, "optout_status"))
	assert.Equal(t, "false", fieldText(sa, contact, "marketing_opt_in"))
	assert.Equal(t, "Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!", replyText(sprint))
	assert.True(t, webhookCalled(sprint, http.StatusOK), "the flow's call_webhook step reached the service")

	// in the service: the change, audited as the flow's, with the keyword and the message's UUID
	urn := string(contact.URNs()[0].Identity())
	var audit struct {
		Results []map[string]any `json:"results"`
	}
	require.NoError(t, json.Unmarshal(getRaw(t, srv.URL+"/v1/workspaces/acme/events?contact="+urn, "acme-token-0123456789"), &audit))
	require.Len(t, audit.Results, 1)
	first := audit.Results[0]
	assert.Equal(t, "opted_out", first["after"])
	assert.Equal(t, "parar", first["keyword"])
	assert.Equal(t, "por", first["language"])
	assert.Equal(t, "flow", first["source"])
	assert.Equal(t, string(msg.UUID()), first["msg_uuid"])

	// and the business's signed webhook
	require.Eventually(t, func() bool { return business.count() == 1 }, 30*time.Second, 50*time.Millisecond)
	assert.Contains(t, business.body(0), `"event":"opt_out"`)

	// with the globals empty, nothing is called, and the contact is opted out all the same
	local := portableAssetsWithGlobals(t, "", "")
	other, err := fixtures.Contact(local, "spa")
	require.NoError(t, err)
	msg = events.NewMsgReceived(goflows.NewMsgIn(other.URNs()[0].Identity(), nil, "salir", nil, ""), "")
	_, sprint, err = eng.NewSession(context.Background(), local, env, other, triggers.NewBuilder(portableFlow()).MsgReceived(msg).Build(), nil)
	require.NoError(t, err)
	assert.Equal(t, "opted_out", fieldText(local, other, "optout_status"))
	assert.Equal(t, "false", fieldText(local, other, "marketing_opt_in"))
	assert.False(t, webhookCalled(sprint, 0), "no call without optout_url")
	assert.Equal(t, 1, business.count())
}

// portableAssetsWithGlobals are the portable export's assets with the platform's globals optout_url and
// optout_token.
func portableAssetsWithGlobals(t *testing.T, url, token string) goflows.SessionAssets {
	data, err := flows.Exports.ReadFile(flows.Portable)
	require.NoError(t, err)
	exp, err := export.Read(data)
	require.NoError(t, err)
	extra, err := fixtures.Extra(exp)
	require.NoError(t, err)
	var sets map[string]any
	require.NoError(t, json.Unmarshal(extra, &sets))
	sets["globals"] = []map[string]string{
		{"key": "optout_url", "name": "Opt-Out URL", "value": url},
		{"key": "optout_token", "name": "Opt-Out Token", "value": token},
	}
	extra, err = json.Marshal(sets)
	require.NoError(t, err)
	src, err := exp.Source(extra)
	require.NoError(t, err)
	sa, err := goengine.NewSessionAssets(envs.NewBuilder().Build(), src, nil)
	require.NoError(t, err)
	return sa
}

// webhookCalled says whether the sprint called a webhook that answered status, any status when it is 0.
func webhookCalled(sprint goflows.Sprint, status int) bool {
	for _, e := range sprint.Events() {
		if call, ok := e.(*events.WebhookCalled); ok && (status == 0 || call.StatusCode == status) {
			return true
		}
	}
	return false
}

func put(t *testing.T, url, token string, body any) {
	data, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest("PUT", url, bytes.NewReader(data))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	require.Less(t, resp.StatusCode, 300, "%s", answer)
}

func getRaw(t *testing.T, url, token string) []byte {
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	return data
}

// receiver is the business's webhook endpoint, keeping what it was sent.
type receiver struct {
	mu     sync.Mutex
	bodies []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(body))
	r.mu.Unlock()
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *receiver) body(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[i]
}
