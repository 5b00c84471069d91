package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/require"
)

// client calls the API with a bearer token.
type client struct {
	t     *testing.T
	base  string
	token string

	observe func(status int, body string) // sees every answer send gets, when set
}

func (c *client) do(method, path string, body any) (int, string) {
	var data []byte
	if body != nil {
		var err error
		data, err = json.Marshal(body)
		require.NoError(c.t, err)
	}
	return c.doRaw(method, path, data)
}

func (c *client) doRaw(method, path string, body []byte) (int, string) {
	status, resp, err := c.try(context.Background(), method, path, body)
	require.NoError(c.t, err)
	return status, resp
}

// try makes one call, returning the error of a call that got no response rather than failing the test.
func (c *client) try(ctx context.Context, method, path string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), err
}

// send posts a message until the service acknowledges it with a 200, retrying with the same UUID after errors,
// 5xx answers and timeouts as a channel would, and returns the acknowledgement. Anything else fails the test.
func (c *client) send(ctx context.Context, ws, msgUUID, urn, text string) string {
	body, _ := json.Marshal(map[string]string{"uuid": msgUUID, "urn": urn, "text": text})
	for {
		attempt, cancel := context.WithTimeout(ctx, 30*time.Second)
		status, resp, err := c.try(attempt, "POST", "/v1/workspaces/"+ws+"/messages", body)
		cancel()
		if err == nil && c.observe != nil {
			c.observe(status, resp)
		}
		switch {
		case err == nil && status == http.StatusOK:
			return resp
		case err == nil && status < 500:
			c.t.Errorf("message %s answered %d: %s", msgUUID, status, resp)
			return ""
		case ctx.Err() != nil:
			c.t.Errorf("message %s never acknowledged: %v", msgUUID, ctx.Err())
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setup creates a workspace with its own token and a webhook to the receiver, and returns its ID and a client
// with its token.
func setup(t *testing.T, admin *client, hookURL string) (string, *client) {
	ws := "ws-" + string(uuids.NewV4())[:8]
	token := "token-of-" + ws
	status, body := admin.do("PUT", "/v1/workspaces/"+ws, map[string]any{
		"token":   token,
		"webhook": map[string]string{"url": hookURL, "secret": secret},
	})
	require.Equal(t, http.StatusCreated, status, body)
	return ws, &client{t: t, base: admin.base, token: token}
}

// all reads every page of a listing.
func (c *client) all(path string) []any {
	var results []any
	for after := ""; ; {
		url := path
		if after != "" {
			url += sep(path) + "after=" + after
		}
		status, body := c.do("GET", url+sep(url)+"limit=1000", nil)
		require.Equal(c.t, http.StatusOK, status, body)
		results = append(results, jsonPath(body, "results").([]any)...)
		next, _ := jsonPath(body, "next").(string)
		if next == "" {
			return results
		}
		after = next
	}
}

func sep(path string) string {
	if bytes.ContainsRune([]byte(path), '?') {
		return "&"
	}
	return "?"
}

// jsonPath digs a value out of a JSON document by keys and indexes.
func jsonPath(doc any, path ...any) any {
	v := doc
	if s, ok := doc.(string); ok {
		if json.Unmarshal([]byte(s), &v) != nil {
			return nil
		}
	}
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// receiver is the business's webhook endpoint: it checks every signature and keeps what it was sent. It can
// answer 500, refuse connections and come back, or redirect elsewhere.
type receiver struct {
	t    *testing.T
	addr string

	mu         sync.Mutex
	received   []*delivery
	mode       string // ok, fail or redirect
	redirect   string
	failedN    int
	signatures []string // of the requests it failed
	server     *http.Server
}

type delivery struct {
	eventID string
	body    string
	at      time.Time
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, mode: "ok"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r.addr = l.Addr().String()
	r.serve(l)
	t.Cleanup(func() { r.refuse() })
	return r
}

func (r *receiver) URL() string { return "http://" + r.addr + "/hook" }

func (r *receiver) serve(l net.Listener) {
	server := &http.Server{Handler: http.HandlerFunc(r.handle)}
	r.mu.Lock()
	r.server = server
	r.mu.Unlock()
	go server.Serve(l)
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if req.Header.Get("X-Optout-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		r.t.Errorf("bad signature %q for %s", req.Header.Get("X-Optout-Signature"), body)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.mode {
	case "fail":
		// as careless receivers do, the error echoes what it was sent
		r.failedN++
		r.signatures = append(r.signatures, req.Header.Get("X-Optout-Signature"))
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "failed to handle event with signature %s", req.Header.Get("X-Optout-Signature"))
	case "redirect":
		http.Redirect(w, req, r.redirect, http.StatusTemporaryRedirect)
	default:
		r.received = append(r.received, &delivery{eventID: req.Header.Get("X-Optout-Event-Id"), body: string(body), at: time.Now()})
	}
}

func (r *receiver) setMode(mode string) {
	r.mu.Lock()
	r.mode = mode
	r.mu.Unlock()
}

func (r *receiver) failures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failedN
}

// refuse closes the receiver's listener and connections, so that deliveries are refused, until resume.
func (r *receiver) refuse() {
	r.mu.Lock()
	server := r.server
	r.server = nil
	r.mu.Unlock()
	if server != nil {
		server.Close()
	}
}

// resume listens again on the same address.
func (r *receiver) resume() {
	var l net.Listener
	require.Eventually(r.t, func() bool {
		var err error
		l, err = net.Listen("tcp", r.addr)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "listening again on %s", r.addr)
	r.serve(l)
}

// distinct returns the events received, each once, in the order they first arrived.
func (r *receiver) distinct() []*delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var events []*delivery
	for _, d := range r.received {
		if !seen[d.eventID] {
			seen[d.eventID] = true
			events = append(events, d)
		}
	}
	return events
}

// await waits for n distinct events and returns them in the order they first arrived.
func (r *receiver) await(t *testing.T, n int) []*delivery {
	var events []*delivery
	require.Eventually(t, func() bool {
		events = r.distinct()
		return len(events) >= n
	}, 90*time.Second, 100*time.Millisecond, "waiting for %d webhook events", n)
	return events
}
