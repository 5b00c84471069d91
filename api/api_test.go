package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/api"
	"github.com/optout-dev/optout/cluster"
	"github.com/optout-dev/optout/internal/testenv"
	"github.com/optout-dev/optout/metrics"
	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

const admin = "the-admin-token-of-the-test"

func newServer(t *testing.T) *httptest.Server {
	srv, _ := newLimitedServer(t, api.Limits{})
	return srv
}

// newLimitedServer serves the API with the limits, over a store whose broadcasts the test can hold in flight.
func newLimitedServer(t *testing.T, limits api.Limits) (*httptest.Server, *holdingStore) {
	return newLoggingServer(t, limits, io.Discard)
}

// newLoggingServer is newLimitedServer, logging in JSON to logs.
func newLoggingServer(t *testing.T, limits api.Limits, logs io.Writer) (*httptest.Server, *holdingStore) {
	return newServerWith(t, logs, func(o *api.Options) { o.Limits = limits })
}

// newServerWith serves the API with the options that configure sets, logging in JSON to logs.
func newServerWith(t *testing.T, logs io.Writer, configure func(*api.Options)) (*httptest.Server, *holdingStore) {
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	held := &holdingStore{Store: st}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	coord, err := cluster.New("", st, log)
	require.NoError(t, err)

	registry := &metrics.Registry{}
	svc := service.New(service.Options{Store: held, Cluster: coord, Policy: &webhook.Policy{AllowPrivate: true}, Metrics: registry, Log: log})
	options := api.Options{
		Service: svc, AdminToken: admin, Metrics: registry, Log: log,
		Health: func(ctx context.Context) map[string]string {
			return map[string]string{"store": "ok", "redis": "not configured"}
		},
	}
	configure(&options)
	srv := httptest.NewServer(api.New(options))
	t.Cleanup(srv.Close)
	return srv, held
}

// holdingStore is the store, but for broadcasts, which it can hold as they start until the test lets them go on.
type holdingStore struct {
	store.Store
	mu      sync.Mutex
	started chan struct{}
	release chan struct{}
}

// holdBroadcasts holds the next broadcast as it starts: started is closed then, and closing release lets it go on.
func (s *holdingStore) holdBroadcasts() (started <-chan struct{}, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started, s.release = make(chan struct{}), make(chan struct{})
	return s.started, s.release
}

func (s *holdingStore) CreateBroadcast(ctx context.Context, b *store.Broadcast) error {
	s.mu.Lock()
	started, release := s.started, s.release
	s.started, s.release = nil, nil
	s.mu.Unlock()
	if started != nil {
		close(started)
		<-release
	}
	return s.Store.CreateBroadcast(ctx, b)
}

func call(t *testing.T, srv *httptest.Server, method, path, token string, body string, headers ...string) (int, string, http.Header) {
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(data), resp.Header
}

func errorOf(body string) string {
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal([]byte(body), &e)
	return e.Error
}

func TestAuthentication(t *testing.T) {
	srv := newServer(t)
	for _, ws := range []string{"acme", "globex"} {
		status, body, _ := call(t, srv, "PUT", "/v1/workspaces/"+ws, admin, `{"token": "token-of-`+ws+`-1234"}`)
		require.Equal(t, http.StatusCreated, status, body)
	}

	endpoints := [][2]string{
		{"POST", "/v1/workspaces/acme/import"},
		{"POST", "/v1/workspaces/acme/messages"},
		{"GET", "/v1/workspaces/acme/contacts/whatsapp:5511987650001"},
		{"POST", "/v1/workspaces/acme/contacts/whatsapp:5511987650001/consent"},
		{"GET", "/v1/workspaces/acme/optouts"},
		{"GET", "/v1/workspaces/acme/events"},
		{"POST", "/v1/workspaces/acme/broadcasts"},
		{"GET", "/v1/workspaces/acme/broadcasts/5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41"},
		{"GET", "/v1/workspaces/acme/webhooks"},
		{"GET", "/v1/workspaces/acme/webhooks/5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41"},
		{"GET", "/v1/workspaces/acme/outbox"},
		{"GET", "/v1/workspaces/acme"},
		{"PUT", "/v1/workspaces/acme"},
	}
	for _, e := range endpoints {
		status, body, headers := call(t, srv, e[0], e[1], "", "{}")
		assert.Equal(t, http.StatusUnauthorized, status, "%s %s without a token", e[0], e[1])
		assert.Equal(t, "authentication required: send Authorization: Bearer TOKEN", errorOf(body))
		assert.Equal(t, `Bearer realm="optout"`, headers.Get("WWW-Authenticate"))

		status, _, _ = call(t, srv, e[0], e[1], "not-anybody's-token", "{}")
		assert.Equal(t, http.StatusUnauthorized, status, "%s %s with a bad token", e[0], e[1])

		status, body, _ = call(t, srv, e[0], e[1], "token-of-globex-1234", "{}")
		assert.Equal(t, http.StatusForbidden, status, "%s %s with another workspace's token", e[0], e[1])
		assert.NotEmpty(t, errorOf(body))

		status, _, _ = call(t, srv, e[0], e[1], "token-of-acme-1234", "{}")
		if strings.HasSuffix(e[1], "/acme") {
			assert.Equal(t, http.StatusForbidden, status, "%s %s: the configuration is the admin's", e[0], e[1])
		} else {
			assert.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, status, "%s %s with the workspace's token", e[0], e[1])
		}
	}
}

func TestErrors(t *testing.T) {
	srv := newServer(t)
	status, body, _ := call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "s3cr3t-that-is-long-enough"}}`)
	require.Equal(t, http.StatusCreated, status, body)
	assert.NotContains(t, body, "s3cr3t")

	tests := []struct {
		method, path, body string
		status             int
		err                string
	}{
		{"PUT", "/v1/workspaces/acme", `{"group": 5}`, 400, "group: must be a string, not number"},
		{"PUT", "/v1/workspaces/acme", `{"langauges": ["por"]}`, 400, `unknown field "langauges"`},
		{"PUT", "/v1/workspaces/acme", `{"languages": ["pt"]}`, 422, `languages[0]: "pt" is not an ISO 639-3 language code; default_language: por is not one of the languages []`},
		{"PUT", "/v1/workspaces/acme", `{"allowed_categories": ["PROMO"]}`, 422, `allowed_categories[0]: unknown category "PROMO" (want CUST_SERVICE or UTILITY, OTP or AUTHENTICATION, MARKETING)`},
		{"PUT", "/v1/workspaces/acme", `{"webhook": {"url": "ftp://example.com", "secret": "s3cr3t-that-is-long-enough"}}`, 422, "webhook.url: "},
		{"PUT", "/v1/workspaces/acme", `{"webhook": {"url": "https://example.com/hook", "secret": "short"}}`, 422, "webhook.secret: is shorter than 16 characters: every notification is signed with it"},
		{"PUT", "/v1/workspaces/acme", `{"token": "short"}`, 422, "token: is shorter than 16 characters"},
		{"PUT", "/v1/workspaces/a%20b", `{}`, 400, `workspace: "a b" is not a workspace ID: use up to 64 letters, digits, '.', '_' and '-'`},
		{"GET", "/v1/workspaces/nope", ``, 404, `no workspace "nope"`},
		{"POST", "/v1/workspaces/acme/messages", `{"uuid": "x", "urn": "whatsapp:1", "text": "hi"}`, 422, `uuid: "x" is not a UUID`},
		{"POST", "/v1/workspaces/acme/messages", `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:abc", "text": "hi"}`, 422, `urn: "whatsapp:abc" is not a phone number: 'a' is not a digit`},
		{"POST", "/v1/workspaces/acme/messages", `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "text": "hi"}`, 422, "urn: is required"},
		{"POST", "/v1/workspaces/acme/messages", `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:5511987650001", "text": "hi", "received_on": "yesterday"}`, 422, `received_on: "yesterday" is not an RFC 3339 time`},
		{"POST", "/v1/workspaces/acme/messages", `{"uuid": "5d76d86b`, 400, "malformed JSON: unexpected end of input"},
		{"POST", "/v1/workspaces/acme/broadcasts", `{"urns": "whatsapp:123", "text": "hi"}`, 400, "urns: must be a list, not string"},
		{"POST", "/v1/workspaces/acme/messages", ``, 400, "empty input: expected a JSON value"},
		{"POST", "/v1/workspaces/acme/import", `{"version": "13", "flows": [{"uuid": "x"}]}`, 422, "flows[0]"},
		{"GET", "/v1/workspaces/acme/contacts/whatsapp:5511987650001", ``, 404, "no contact with URN whatsapp:5511987650001"},
		{"GET", "/v1/workspaces/acme/events?limit=0", ``, 400, `limit: "0" is not a number from 1 to 1000`},
		{"GET", "/v1/workspaces/acme/events?after=abc", ``, 400, `after: "abc" is not a cursor from a previous page`},
		{"GET", "/v1/workspaces/acme/webhooks?status=lost", ``, 400, `status: "lost" is not pending, delivered or failed`},
		{"GET", "/v1/nothing", ``, 404, "no such endpoint: GET /v1/nothing"},
	}
	for _, tc := range tests {
		status, body, _ := call(t, srv, tc.method, tc.path, admin, tc.body)
		assert.Equal(t, tc.status, status, "%s %s %s: %s", tc.method, tc.path, tc.body, body)
		assert.Contains(t, errorOf(body), tc.err, "%s %s %s", tc.method, tc.path, tc.body)
	}
}

func TestBodyLimit(t *testing.T) {
	srv := newServer(t)
	status, _, _ := call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{}`)
	require.Equal(t, http.StatusCreated, status)

	big := `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:1", "text": "` + strings.Repeat("x", api.MaxBodySize) + `"}`
	status, body, _ := call(t, srv, "POST", "/v1/workspaces/acme/messages", admin, big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Equal(t, "the request body is larger than 1048576 bytes", errorOf(body))

	// without a Content-Length, the limit applies while reading
	req, err := http.NewRequest("POST", srv.URL+"/v1/workspaces/acme/messages", io.MultiReader(bytes.NewReader([]byte(big))))
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

// Exports of real workspaces are often over 1 MiB: an import reads up to 32 MiB, or what the host configures.
func TestImportSizeLimit(t *testing.T) {
	srv, _ := newServerWith(t, io.Discard, func(o *api.Options) { o.MaxImportSize = 3 << 20 })
	call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{}`)

	large := largeExport(t, 1<<20+1)
	status, body, _ := call(t, srv, "POST", "/v1/workspaces/acme/import", admin, string(large))
	require.Equal(t, http.StatusOK, status, "%.300s", body)
	var result map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &result))
	assert.Greater(t, result["flows"], float64(100))

	status, body, _ = call(t, srv, "POST", "/v1/workspaces/acme/import", admin, string(largeExport(t, 3<<20+1)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Equal(t, "the request body is larger than 3145728 bytes", errorOf(body))

	// and without a Content-Length, while reading it
	req, err := http.NewRequest("POST", srv.URL+"/v1/workspaces/acme/import", io.MultiReader(bytes.NewReader(largeExport(t, 3<<20+1))))
	require.NoError(t, err)
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	// every other endpoint keeps 1 MiB
	status, _, _ = call(t, srv, "POST", "/v1/workspaces/acme/broadcasts", admin, string(large))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
}

// largeExport is an export of as many copies of a small flow, each its own, as make it at least size bytes.
func largeExport(t *testing.T, size int) []byte {
	var flows []string
	total := 0
	for i := 0; total < size; i++ {
		flow := fmt.Sprintf(`{"uuid": "%s", "name": "Flow %d", "spec_version": "13.0.0", "language": "eng", "type": "messaging",
			"nodes": [{"uuid": "%s", "actions": [{"uuid": "%s", "type": "send_msg", "text": "%s"}], "exits": [{"uuid": "%s"}]}]}`,
			uuids.NewV4(), i, uuids.NewV4(), uuids.NewV4(), strings.Repeat("Olá! ", 1000), uuids.NewV4())
		flows = append(flows, flow)
		total += len(flow)
	}
	return []byte(`{"version": "13", "flows": [` + strings.Join(flows, ",") + `]}`)
}

func TestOptOutsCSV(t *testing.T) {
	srv := newServer(t)
	call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{}`)
	status, body, _ := call(t, srv, "POST", "/v1/workspaces/acme/contacts/whatsapp:5511987650001/consent", admin, `{"status": "opted_out"}`)
	require.Equal(t, http.StatusOK, status, body)

	status, body, headers := call(t, srv, "GET", "/v1/workspaces/acme/optouts", admin, "", "Accept", "text/csv")
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "text/csv; charset=utf-8", headers.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(body, "urn,uuid,name,language,opted_out_on\nwhatsapp:5511987650001,"), body)

	status, body, _ = call(t, srv, "GET", "/v1/workspaces/nope/optouts", admin, "", "Accept", "text/csv")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, `no workspace "nope"`, errorOf(body))

	status, body, _ = call(t, srv, "GET", "/v1/workspaces/acme/optouts", admin, "")
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `"urn":"whatsapp:5511987650001"`)
}

func TestHealthAndMetrics(t *testing.T) {
	srv := newServer(t)
	status, body, _ := call(t, srv, "GET", "/healthz", "", "")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"store": "ok", "redis": "not configured"}`, body)

	call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{}`)
	call(t, srv, "POST", "/v1/workspaces/acme/messages", admin, `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:5511987650001", "text": "stop"}`)
	status, body, _ = call(t, srv, "GET", "/metrics", "", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `optout_messages_total{intent="opt_out"} 1`)
}

// A token opens one workspace: a token in use answers 409 naming token, also when two PUTs race for it, and the admin
// token is no workspace's.
func TestTokensAreOneWorkspaces(t *testing.T) {
	srv := newServer(t)
	status, body, _ := call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{"token": "a-token-of-acme-only"}`)
	require.Equal(t, http.StatusCreated, status, body)

	status, body, _ = call(t, srv, "PUT", "/v1/workspaces/other", admin, `{"token": "a-token-of-acme-only"}`)
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, "token: is another workspace's: give each workspace a token of its own", errorOf(body))
	status, _, _ = call(t, srv, "GET", "/v1/workspaces/other", admin, ``)
	assert.Equal(t, http.StatusNotFound, status, "the refused PUT created nothing")

	status, body, _ = call(t, srv, "PUT", "/v1/workspaces/other", admin, `{"token": "`+admin+`"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "token: is the admin token: give the workspace a token of its own", errorOf(body))

	statuses := make(chan int, 6)
	for i := range cap(statuses) {
		go func() {
			status, _, _ := call(t, srv, "PUT", fmt.Sprintf("/v1/workspaces/racer-%d", i), admin, `{"token": "a-token-two-want-at-once"}`)
			statuses <- status
		}()
	}
	counts := map[int]int{}
	for range cap(statuses) {
		counts[<-statuses]++
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: 5}, counts)
}

// Errors name the value at fault, but quote at most 100 characters of it, however long it is.
func TestErrorsQuoteAtMost100Characters(t *testing.T) {
	srv := newServer(t)
	call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{}`)
	long := strings.Repeat("é", 5000)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/workspaces/acme/messages", `{"uuid": "` + long + `", "urn": "whatsapp:5511987650001"}`},
		{"POST", "/v1/workspaces/acme/messages", `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:` + long + `"}`},
		{"POST", "/v1/workspaces/acme/messages", `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:5511987650001", "received_on": "` + long + `"}`},
		{"POST", "/v1/workspaces/acme/messages", `{"` + long + `": 1}`},
		{"POST", "/v1/workspaces/acme/broadcasts", `{"group": "` + long + `", "text": "hi"}`},
		{"POST", "/v1/workspaces/acme/broadcasts", `{"urns": ["whatsapp:5511987650001"], "template": {"name": "x", "category": "` + long + `"}}`},
		{"POST", "/v1/workspaces/acme/contacts/whatsapp:5511987650001/consent", `{"status": "` + long + `"}`},
		{"PUT", "/v1/workspaces/acme", `{"languages": ["` + long + `"]}`},
		{"GET", "/v1/workspaces/acme/events?after=" + long, ``},
		{"GET", "/v1/workspaces/acme/webhooks?status=" + long, ``},
	} {
		status, body, _ := call(t, srv, tc.method, tc.path, admin, tc.body)
		msg := errorOf(body)
		assert.GreaterOrEqual(t, status, 400, "%s %s", tc.method, tc.path)
		assert.Contains(t, msg, strings.Repeat("é", 90), "the error quotes the value's start: %.300s", msg)
		assert.Contains(t, msg, `"…`, "and says there is more: %.300s", msg)
		assert.NotContains(t, msg, strings.Repeat("é", 101), "and no more of it: %.300s", msg)
	}
}

// A dry run sends nothing, so it counts in no decision metric.
func TestDryRunIsNotCounted(t *testing.T) {
	srv := newServer(t)
	call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{}`)
	status, body, _ := call(t, srv, "POST", "/v1/workspaces/acme/broadcasts", admin, `{"urns": ["whatsapp:5511987650001"], "template": {"name": "code", "category": "OTP"}, "dry_run": true}`)
	require.Equal(t, http.StatusOK, status, body)
	_, metrics, _ := call(t, srv, "GET", "/metrics", "", ``)
	assert.NotContains(t, metrics, `optout_decisions_total{kind="broadcast"`)

	status, body, _ = call(t, srv, "POST", "/v1/workspaces/acme/broadcasts", admin, `{"urns": ["whatsapp:5511987650001"], "template": {"name": "code", "category": "OTP"}}`)
	require.Equal(t, http.StatusOK, status, body)
	_, metrics, _ = call(t, srv, "GET", "/metrics", "", ``)
	assert.Contains(t, metrics, `optout_decisions_total{kind="broadcast",decision="send",reason=""} 1`)
}

// No one workspace's token can exhaust the service: past its rate or its broadcasts in flight it gets 429 with
// Retry-After, while the admin token and other workspaces go on.
func TestWorkspaceLimits(t *testing.T) {
	srv, svc := newLimitedServer(t, api.Limits{Rate: 5, Broadcasts: 1})
	call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{"token": "the-token-of-acme-1"}`)
	call(t, srv, "PUT", "/v1/workspaces/globex", admin, `{"token": "the-token-of-globex-1"}`)

	limited := 0
	for range 30 {
		status, body, headers := call(t, srv, "GET", "/v1/workspaces/acme/optouts", "the-token-of-acme-1", ``)
		if status == http.StatusTooManyRequests {
			limited++
			assert.NotEmpty(t, headers.Get("Retry-After"))
			assert.Equal(t, "too many requests: this workspace's token may make 5 a second", errorOf(body))
		}
	}
	assert.GreaterOrEqual(t, limited, 15, "a burst of 10, then 5 a second")
	status, _, _ := call(t, srv, "GET", "/v1/workspaces/globex/optouts", "the-token-of-globex-1", ``)
	assert.Equal(t, http.StatusOK, status, "another workspace is not held back")
	status, _, _ = call(t, srv, "GET", "/v1/workspaces/acme/optouts", admin, ``)
	assert.Equal(t, http.StatusOK, status, "nor the admin")

	// a broadcast in flight holds the workspace's only place: a second one waits for it
	started, release := svc.holdBroadcasts()
	first := make(chan int)
	go func() {
		status, _, _ := call(t, srv, "POST", "/v1/workspaces/globex/broadcasts", admin, `{"urns": ["whatsapp:5511987650001"], "text": "hi"}`)
		first <- status
	}()
	<-started
	status, body, headers := call(t, srv, "POST", "/v1/workspaces/globex/broadcasts", admin, `{"urns": ["whatsapp:5511987650001"], "text": "hi"}`)
	assert.Equal(t, http.StatusTooManyRequests, status)
	assert.Equal(t, "1", headers.Get("Retry-After"))
	assert.Equal(t, "too many broadcasts at once: a workspace may have 1 being decided; try again when one is done", errorOf(body))
	close(release)
	assert.Equal(t, http.StatusOK, <-first)
	status, _, _ = call(t, srv, "POST", "/v1/workspaces/globex/broadcasts", admin, `{"urns": ["whatsapp:5511987650001"], "text": "hi"}`)
	assert.Equal(t, http.StatusOK, status, "its place is free again")
}

// The admin lists the workspaces with their counts, and deletes one with all it holds.
func TestWorkspacesAdmin(t *testing.T) {
	srv := newServer(t)
	call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{"name": "Acme", "token": "the-token-of-acme-1"}`)
	call(t, srv, "PUT", "/v1/workspaces/globex", admin, `{}`)
	status, body, _ := call(t, srv, "POST", "/v1/workspaces/acme/messages", admin, `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:5511987650001", "text": "parar"}`)
	require.Equal(t, http.StatusOK, status, body)

	status, body, _ = call(t, srv, "GET", "/v1/workspaces", admin, ``)
	require.Equal(t, http.StatusOK, status, body)
	var list struct {
		Results []map[string]any `json:"results"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	require.Len(t, list.Results, 2)
	assert.Equal(t, []any{"acme", "Acme", float64(1), float64(1)}, []any{list.Results[0]["id"], list.Results[0]["name"], list.Results[0]["contacts"], list.Results[0]["opted_out"]})
	assert.Equal(t, []any{"globex", float64(0)}, []any{list.Results[1]["id"], list.Results[1]["contacts"]})

	status, _, _ = call(t, srv, "GET", "/v1/workspaces", "the-token-of-acme-1", ``)
	assert.Equal(t, http.StatusForbidden, status, "the admin's only")
	status, _, _ = call(t, srv, "DELETE", "/v1/workspaces/acme", "the-token-of-acme-1", ``)
	assert.Equal(t, http.StatusForbidden, status, "the admin's only")

	status, _, _ = call(t, srv, "DELETE", "/v1/workspaces/acme", admin, ``)
	assert.Equal(t, http.StatusNoContent, status)
	status, _, _ = call(t, srv, "GET", "/v1/workspaces/acme", admin, ``)
	assert.Equal(t, http.StatusNotFound, status)
	status, body, _ = call(t, srv, "DELETE", "/v1/workspaces/acme", admin, ``)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, `no workspace "acme"`, errorOf(body))
	status, _, _ = call(t, srv, "GET", "/v1/workspaces/acme/optouts", "the-token-of-acme-1", ``)
	assert.Equal(t, http.StatusUnauthorized, status, "its token is no one's now")
}

// A request answered with a 4xx is logged with the reason the client was told, and bulk work logs one line with its
// counts; every duration is elapsed_ms.
func TestLogs(t *testing.T) {
	var logs testenv.LockedBuffer
	srv, _ := newLoggingServer(t, api.Limits{}, &logs)
	call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{}`)
	call(t, srv, "POST", "/v1/workspaces/acme/broadcasts", admin, `{"urns": ["whatsapp:5511987650001"], "text": "hi"}`)
	call(t, srv, "POST", "/v1/workspaces/acme/broadcasts", admin, `{"urns": ["nope"], "text": "hi"}`)
	call(t, srv, "POST", "/v1/workspaces/acme/import", admin, string(largeExport(t, 1)))

	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &entry), line)
		lines = append(lines, entry)
		for key := range entry {
			assert.False(t, strings.Contains(key, "elapsed") && key != "elapsed_ms", "a duration logged as %s", key)
		}
	}
	find := func(msg string, status float64) map[string]any {
		for _, l := range lines {
			if l["msg"] == msg && (status == 0 || l["status"] == status) {
				return l
			}
		}
		return nil
	}
	bad := find("request", 422)
	require.NotNil(t, bad, "%s", logs.String())
	assert.Equal(t, `urns[0]: "nope" is not a valid URN: path cannot be empty`, bad["reason"])
	assert.NotContains(t, find("request", 200), "reason")
	broadcast := find("broadcast", 0)
	require.NotNil(t, broadcast)
	assert.Equal(t, []any{"acme", float64(1), float64(0), float64(1)}, []any{broadcast["workspace"], broadcast["total"], broadcast["sent"], broadcast["skipped_window_closed"]})
	assert.Contains(t, broadcast, "elapsed_ms")
	imported := find("imported export", 0)
	require.NotNil(t, imported, "%s", logs.String())
	assert.Equal(t, []any{"acme", float64(1), float64(0)}, []any{imported["workspace"], imported["flows"], imported["warnings"]})
	assert.Contains(t, imported, "elapsed_ms")
}

// A new workspace starts at version 1, and PUT and GET show the configuration in effect, defaults filled in.
func TestWorkspaceShowsConfigurationInEffect(t *testing.T) {
	srv := newServer(t)
	status, body, _ := call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{"languages": ["spa", "por"], "default_language": "spa"}`)
	require.Equal(t, http.StatusCreated, status, body)
	var ws map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &ws))
	assert.Equal(t, float64(1), ws["version"])
	assert.Equal(t, "spa", ws["default_language"])
	assert.Equal(t, []any{"spa", "por"}, ws["languages"])
	assert.Equal(t, "Opted Out", ws["group"])
	assert.Equal(t, []any{"CUST_SERVICE", "OTP"}, ws["allowed_categories"])
	assert.Equal(t, "UTC", ws["timezone"])
	assert.NotNil(t, ws["replies"])

	// what GET shows, PUT back, changes nothing but the version
	_, shown, _ := call(t, srv, "GET", "/v1/workspaces/acme", admin, ``)
	var again map[string]any
	require.NoError(t, json.Unmarshal([]byte(shown), &again))
	for _, key := range []string{"id", "version", "created_on", "updated_on", "has_token"} {
		delete(again, key)
	}
	putBack, _ := json.Marshal(again)
	status, body, _ = call(t, srv, "PUT", "/v1/workspaces/acme", admin, string(putBack))
	require.Equal(t, http.StatusOK, status, body)
	require.NoError(t, json.Unmarshal([]byte(body), &again))
	assert.Equal(t, float64(2), again["version"])
	for _, key := range []string{"default_language", "languages", "group", "allowed_categories", "replies", "timezone"} {
		assert.Equal(t, ws[key], again[key], key)
	}
}
