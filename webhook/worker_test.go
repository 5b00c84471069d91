package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nyaruka/goflow/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

const secret = "s3cr3t-do-not-leak-7f3a"

// attempt is an attempt as the worker's hook saw it.
type attempt struct {
	store.WebhookAttempt
	outcome store.WebhookStatus
}

// harness runs a worker on a fake store and clock, posting to loopback.
type harness struct {
	t        *testing.T
	clock    *fakeClock
	store    *fakeStore
	worker   *webhook.Worker
	attempts chan attempt
	logs     *testenv.LockedBuffer
	cancel   context.CancelFunc
	done     chan error
}

// newHarness returns a harness with a workspace "acme" posting to url. The worker polls hourly, so only nudges and
// ended deliveries make it claim, and retries after n minutes after the nth attempt.
func newHarness(t *testing.T, url string) *harness {
	clock := newFakeClock()
	h := &harness{
		t:        t,
		clock:    clock,
		store:    newFakeStore(t, clock, &store.Workspace{ID: "acme", Name: "Acme", WebhookURL: url, WebhookSecret: secret}),
		attempts: make(chan attempt, 1000),
		logs:     &testenv.LockedBuffer{},
	}
	h.worker = &webhook.Worker{
		Store:   h.store,
		Policy:  &webhook.Policy{AllowPrivate: true},
		Timeout: 5 * time.Second,
		Poll:    time.Hour,
		Backoff: func(n int) time.Duration { return time.Duration(n) * time.Minute },
		Now:     clock.Now,
		Log:     slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnAttempt: func(a *store.WebhookAttempt, outcome store.WebhookStatus) {
			h.attempts <- attempt{*a, outcome}
		},
	}
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.worker.Run(ctx) }()
	h.t.Cleanup(h.stop)
}

// stop cancels the worker and waits for Run to return.
func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		assert.NoError(h.t, err)
		h.done <- err // for another stop
	case <-time.After(30 * time.Second):
		h.t.Fatal("Run didn't return")
	}
}

// next waits for the worker's next attempt.
func (h *harness) next() attempt {
	h.t.Helper()
	return receive(h.t, h.attempts)
}

// retry moves the clock to when the event is due again and nudges the worker.
func (h *harness) retry(id string) {
	h.clock.Set(h.store.event(id).NextAttempt)
	h.worker.Nudge()
}

// receive waits for a value from ch. The timeout only keeps a broken worker from hanging the tests.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("nothing received")
	}
	var zero T
	return zero
}

// eachStore runs the test on a store of each kind: SQLite in a directory of the test's, and PostgreSQL in a schema of
// its own.
func eachStore(t *testing.T, test func(t *testing.T, st store.Store)) {
	for name, dsn := range map[string]func(testing.TB) string{
		"sqlite":   func(t testing.TB) string { return t.TempDir() },
		"postgres": testenv.PostgresSchema,
	} {
		t.Run(name, func(t *testing.T) {
			st, err := store.Open(t.Context(), dsn(t))
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			test(t, st)
		})
	}
}

// releaser returns a channel that blocked handlers wait on and the function that closes it, which runs at the
// latest when the test ends, before its servers close.
func releaser(t *testing.T) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release)
	return ch, release
}

// request is what a receiver got.
type request struct {
	method, path string
	header       http.Header
	body         []byte
}

// recorder is a receiver that keeps its requests and answers with the statuses given, then 200s.
func recorder(t *testing.T, statuses ...int) (string, func() []request) {
	var mu sync.Mutex
	var reqs []request
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, request{r.Method, r.URL.Path, r.Header.Clone(), body})
		status := http.StatusOK
		if n := len(reqs); n <= len(statuses) {
			status = statuses[n-1]
		}
		mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "answer %d", status)
	})
	return srv.URL + "/optout", func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), reqs...)
	}
}

func TestDelivery(t *testing.T) {
	url, requests := recorder(t)
	h := newHarness(t, url)
	body := `{"event":"opt_out","data":{"urn":"whatsapp:5511999990000"}}`
	id := h.store.add("acme", "c1", body)
	h.start()

	a := h.next()
	assert.Equal(t, store.WebhookDelivered, a.outcome)
	assert.Equal(t, 200, a.StatusCode)
	assert.Equal(t, "", a.Error)
	assert.Equal(t, 1, a.Number)
	assert.Equal(t, h.clock.Now(), a.StartedOn)

	ev := h.store.event(id)
	assert.Equal(t, store.WebhookDelivered, ev.Status)
	assert.Equal(t, 1, ev.Attempts)
	assert.Equal(t, h.clock.Now(), ev.DeliveredOn)

	reqs := requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "POST", r.method)
	assert.Equal(t, "/optout", r.path)
	assert.Equal(t, body, string(r.body))
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.Equal(t, webhook.UserAgent, r.header.Get("User-Agent"))
	assert.Contains(t, r.header.Get("User-Agent"), "optout")
	assert.Equal(t, id, r.header.Get("X-Optout-Event-Id"))

	// the receiver checks the signature as its documentation tells it to
	sig, ok := strings.CutPrefix(r.header.Get("X-Optout-Signature"), "sha256=")
	require.True(t, ok, "signature without its scheme")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(r.body)
	got, err := hex.DecodeString(sig)
	require.NoError(t, err)
	assert.True(t, hmac.Equal(mac.Sum(nil), got), "signature doesn't verify")
}

func TestRetryAfterErrorStatus(t *testing.T) {
	url, requests := recorder(t, 500, 429)
	h := newHarness(t, url)
	id := h.store.add("acme", "c1", `{"n":1}`)
	created := h.clock.Now()
	h.start()

	a := h.next()
	assert.Equal(t, attempt{store.WebhookAttempt{EventID: id, Number: 1, StartedOn: created, Duration: a.Duration, StatusCode: 500, Error: "status 500: answer 500"}, store.WebhookPending}, a)
	ev := h.store.event(id)
	assert.Equal(t, store.WebhookPending, ev.Status)
	assert.Equal(t, created.Add(time.Minute), ev.NextAttempt, "due again after Backoff(1)")
	assert.Equal(t, "status 500: answer 500", ev.LastError)

	h.worker.Nudge() // not due yet: nothing happens
	h.clock.Advance(59 * time.Second)
	h.worker.Nudge()

	h.retry(id)
	a = h.next()
	assert.Equal(t, 2, a.Number)
	assert.Equal(t, 429, a.StatusCode)
	assert.Equal(t, store.WebhookPending, a.outcome)
	assert.Equal(t, created.Add(time.Minute+2*time.Minute), h.store.event(id).NextAttempt, "due again after Backoff(2)")

	h.retry(id)
	a = h.next()
	assert.Equal(t, 3, a.Number)
	assert.Equal(t, store.WebhookDelivered, a.outcome)

	// every attempt carried the same event, ID and signature
	reqs := requests()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		assert.Equal(t, id, r.header.Get("X-Optout-Event-Id"))
		assert.Equal(t, webhook.Sign(secret, []byte(`{"n":1}`)), r.header.Get("X-Optout-Signature"))
		assert.Equal(t, `{"n":1}`, string(r.body))
	}
	assert.Len(t, h.store.recorded(), 3)
}

func TestRetryAfterConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()

	h := newHarness(t, "http://"+addr+"/optout")
	id := h.store.add("acme", "c1", `{}`)
	h.start()

	a := h.next()
	assert.Equal(t, store.WebhookPending, a.outcome)
	assert.Equal(t, 0, a.StatusCode)
	assert.Contains(t, a.Error, "connection refused")
	assert.Equal(t, h.clock.Now().Add(time.Minute), h.store.event(id).NextAttempt)

	// the receiver comes up
	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go srv.Serve(ln)
	defer srv.Close()

	h.retry(id)
	a = h.next()
	assert.Equal(t, store.WebhookDelivered, a.outcome)
	assert.Equal(t, 2, a.Number)
}

func TestRetryAfterTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var calls atomic.Int32
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // answer too late
			case <-r.Context().Done():
			case <-release:
			}
		}
	})
	h := newHarness(t, srv.URL)
	h.worker.Timeout = 100 * time.Millisecond
	id := h.store.add("acme", "c1", `{}`)
	h.start()

	a := h.next()
	assert.Equal(t, store.WebhookPending, a.outcome)
	assert.Equal(t, 0, a.StatusCode)
	assert.Contains(t, a.Error, "Client.Timeout exceeded")

	h.retry(id)
	assert.Equal(t, store.WebhookDelivered, h.next().outcome)
}

func TestGiveUp(t *testing.T) {
	url, requests := recorder(t, slices500(100)...)
	h := newHarness(t, url)
	h.worker.Backoff = nil // the default
	id := h.store.add("acme", "c1", `{}`)
	created := h.clock.Now()
	deadline := created.Add(webhook.DefaultGiveUpAfter)
	h.start()

	var a attempt
	for n := 1; ; n++ {
		a = h.next()
		require.Equal(t, n, a.Number)
		if a.outcome != store.WebhookPending {
			break
		}
		ev := h.store.event(id)
		wait := ev.NextAttempt.Sub(h.clock.Now())
		if ev.NextAttempt != deadline { // else the last wait, cut short at the deadline
			nominal := time.Hour
			if n <= 10 {
				nominal = 5 * time.Second << (n - 1)
			}
			require.True(t, wait >= nominal/2 && wait <= nominal, "wait %s after attempt %d not in [%s, %s]", wait, n, nominal/2, nominal)
		}
		require.Less(t, n, 100, "still retrying")
		h.retry(id)
	}

	assert.Equal(t, store.WebhookFailed, a.outcome)
	assert.Equal(t, deadline, a.StartedOn, "the last attempt is at the deadline")
	assert.GreaterOrEqual(t, a.StartedOn.Sub(created), webhook.MinGiveUpAfter)
	assert.True(t, a.Number >= 34 && a.Number <= 61, "%d attempts", a.Number)
	assert.Equal(t, store.WebhookFailed, h.store.event(id).Status)
	assert.Len(t, requests(), a.Number)
	assert.Contains(t, h.logs.String(), "webhook failed for good")
}

func slices500(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 500
	}
	return s
}

func TestGiveUpAfter(t *testing.T) {
	url, _ := recorder(t, 500, 500, 500)
	h := newHarness(t, url)
	h.worker.GiveUpAfter = 48 * time.Hour
	h.worker.Backoff = func(int) time.Duration { return 20 * time.Hour }
	id := h.store.add("acme", "c1", `{}`)
	created := h.clock.Now()
	h.start()

	assert.Equal(t, store.WebhookPending, h.next().outcome)
	assert.Equal(t, created.Add(20*time.Hour), h.store.event(id).NextAttempt)
	h.retry(id)
	assert.Equal(t, store.WebhookPending, h.next().outcome)
	assert.Equal(t, created.Add(40*time.Hour), h.store.event(id).NextAttempt)
	h.retry(id)
	assert.Equal(t, store.WebhookPending, h.next().outcome)
	assert.Equal(t, created.Add(48*time.Hour), h.store.event(id).NextAttempt, "the last wait is cut short at the deadline")
	h.retry(id)
	a := h.next()
	assert.Equal(t, store.WebhookDelivered, a.outcome, "an attempt at the deadline still counts")
	assert.Equal(t, 4, a.Number)
}

func TestPerContactOrder(t *testing.T) {
	var mu sync.Mutex
	var got []string
	failed := false
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("X-Optout-Event-Id"))
		if string(body) == `{"a":1}` && !failed {
			failed = true
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	h := newHarness(t, srv.URL)
	a1 := h.store.add("acme", "a", `{"a":1}`)
	a2 := h.store.add("acme", "a", `{"a":2}`)
	b1 := h.store.add("acme", "b", `{"b":1}`)
	a3 := h.store.add("acme", "a", `{"a":3}`)
	h.start()

	// a1 fails and b1 is delivered, and a2 waits for a1
	first := map[string]store.WebhookStatus{}
	for range 2 {
		a := h.next()
		first[a.EventID] = a.outcome
	}
	assert.Equal(t, map[string]store.WebhookStatus{a1: store.WebhookPending, b1: store.WebhookDelivered}, first)

	h.retry(a1)
	for _, id := range []string{a1, a2, a3} {
		a := h.next()
		assert.Equal(t, id, a.EventID)
		assert.Equal(t, store.WebhookDelivered, a.outcome)
	}

	mu.Lock()
	defer mu.Unlock()
	var ofA []string
	for _, id := range got {
		if id != b1 {
			ofA = append(ofA, id)
		}
	}
	assert.Equal(t, []string{a1, a1, a2, a3}, ofA)
}

func TestConcurrency(t *testing.T) {
	var inflight, most atomic.Int32
	arrived := make(chan struct{}, 10)
	released, release := releaser(t)
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		arrived <- struct{}{}
		<-released
	})
	h := newHarness(t, srv.URL)
	h.worker.Concurrency = 2
	h.worker.PerWorkspace = 2 // the one workspace may take both
	for i := range 5 {
		h.store.add("acme", flows.ContactUUID(fmt.Sprintf("c%d", i)), `{}`)
	}
	h.start()

	receive(t, arrived)
	receive(t, arrived)
	h.worker.Nudge() // more events are due, but no slot is free
	release()
	for range 5 {
		assert.Equal(t, store.WebhookDelivered, h.next().outcome)
	}
	assert.Equal(t, int32(2), most.Load())
}

// An endpoint that hangs holds at most half the workers while it isn't known to, and one once it is: another
// workspace's events go out at once, whatever is queued for the first.
func TestHungEndpointHoldsFewWorkers(t *testing.T) {
	var hungNow, most atomic.Int32
	released, release := releaser(t)
	hung, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		n := hungNow.Add(1)
		defer hungNow.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-released
	})
	fine, _ := receiver(t, nil)
	h := newHarness(t, hung.URL)
	h.worker.Concurrency = 8
	h.store.workspaces["globex"] = &store.Workspace{ID: "globex", Name: "Globex", WebhookURL: fine.URL, WebhookSecret: secret}
	for i := range 100 {
		h.store.add("acme", flows.ContactUUID(fmt.Sprintf("c%d", i)), `{}`)
	}
	h.start()
	require.Eventually(t, func() bool { return hungNow.Load() == 4 }, 10*time.Second, time.Millisecond, "half of the workers")

	for i := range 10 {
		id := h.store.add("globex", flows.ContactUUID(fmt.Sprintf("g%d", i)), `{}`)
		h.worker.Nudge()
		a := h.next()
		assert.Equal(t, id, a.EventID, "globex's event goes out while acme's hang")
		assert.Equal(t, store.WebhookDelivered, a.outcome)
	}
	assert.Equal(t, int32(4), most.Load(), "acme never held more than half the workers")
	release()
}

func TestRedirectNotFollowed(t *testing.T) {
	target, hits := receiver(t, nil)
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
	})
	h := newHarness(t, srv.URL)
	h.store.add("acme", "c1", `{}`)
	h.start()

	a := h.next()
	assert.Equal(t, store.WebhookPending, a.outcome)
	assert.Equal(t, 307, a.StatusCode)
	assert.Equal(t, fmt.Sprintf("redirect to %q not followed", target.URL+"/elsewhere"), a.Error)
	assert.Zero(t, hits.Load())
}

func TestDialerRefusesNameResolvingToLoopback(t *testing.T) {
	srv, hits := receiver(t, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("http://hooks.example.com:%d/optout", port)
	policy := &webhook.Policy{Resolver: &fakeResolver{answers: map[string][][]string{"hooks.example.com": {{"127.0.0.1"}}}}}
	require.NoError(t, policy.CheckURL(url), "the URL is configured without resolving the name")

	h := newHarness(t, url)
	h.worker.Policy = policy
	h.store.add("acme", "c1", `{}`)
	h.start()

	a := h.next()
	assert.Equal(t, store.WebhookPending, a.outcome)
	assert.Contains(t, a.Error, "refusing to connect to loopback address 127.0.0.1")
	assert.Zero(t, hits.Load())
}

func TestURLRefusedAtDelivery(t *testing.T) {
	h := newHarness(t, "http://127.0.0.1:1/optout")
	h.worker.Policy = &webhook.Policy{}
	id := h.store.add("acme", "c1", `{}`)
	h.start()

	a := h.next()
	assert.Equal(t, store.WebhookPending, a.outcome)
	assert.Equal(t, `webhook.url: host "127.0.0.1" is a loopback address`, a.Error)

	h.store.setWebhookURL("acme", "ftp://hooks.example.com/")
	h.retry(id)
	a = h.next()
	assert.Equal(t, `webhook.url: scheme "ftp" is not http or https`, a.Error)
	assert.Equal(t, 2, a.Number)
}

func TestNoWebhookURL(t *testing.T) {
	h := newHarness(t, "")
	ids := []string{h.store.add("acme", "c1", `{"n":1}`), h.store.add("acme", "c2", `{"n":2}`)}
	h.start()

	for range ids {
		a := h.next()
		assert.Equal(t, store.WebhookPending, a.outcome)
		assert.Equal(t, "workspace has no webhook URL", a.Error)
	}

	// configuring the URL delivers the backlog
	url, requests := recorder(t)
	h.store.setWebhookURL("acme", url)
	h.retry(ids[0])
	for range ids {
		assert.Equal(t, store.WebhookDelivered, h.next().outcome)
	}
	assert.Len(t, requests(), 2)
}

func TestWorkspaceNotFound(t *testing.T) {
	h := newHarness(t, "")
	h.store.add("gone", "c1", `{}`)
	h.start()

	a := h.next()
	assert.Equal(t, store.WebhookPending, a.outcome)
	assert.Equal(t, "workspace not found", a.Error)
}

func TestSecretNeverLeaks(t *testing.T) {
	body := `{"event":"opt_out"}`
	signature := webhook.Sign(secret, []byte(body))
	var calls atomic.Int32
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1: // an error page that shows what it got and what it expected
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "bad signature %s, expected one keyed with %s", r.Header.Get("X-Optout-Signature"), secret)
		case 2:
			http.Redirect(w, r, "https://hooks.example.com/?key="+secret+"&sig="+r.Header.Get("X-Optout-Signature"), http.StatusFound)
		}
	})
	h := newHarness(t, srv.URL)
	id := h.store.add("acme", "c1", body)
	h.start()

	var errs []string
	for range 3 {
		a := h.next()
		errs = append(errs, a.Error)
		h.retry(id)
	}
	assert.Equal(t, []string{
		"status 401: bad signature [redacted], expected one keyed with [redacted]",
		`redirect to "https://hooks.example.com/?key=[redacted]&sig=[redacted]" not followed`,
		"",
	}, errs)

	logs := h.logs.String()
	assert.Contains(t, logs, "webhook attempt failed")
	for _, leak := range []string{secret, signature, strings.TrimPrefix(signature, "sha256=")} {
		assert.NotContains(t, logs, leak)
		for _, a := range h.store.recorded() {
			assert.NotContains(t, a.Error, leak)
		}
	}
}

func TestStoreErrors(t *testing.T) {
	url, requests := recorder(t)
	h := newHarness(t, url)
	h.store.claimErrs = []error{errors.New("database is down")}
	h.store.wsErrs = []error{errors.New("database is down")}
	h.store.recordErrs = []error{errors.New("database is down"), errors.New("database is still down")}
	id := h.store.add("acme", "c1", `{}`)
	h.start()

	// the first claim fails, and the worker keeps running
	h.worker.Nudge()

	// the workspace can't be read: no attempt, the event waits for its lease to run out
	receive(t, h.store.wsFailed)
	h.clock.Advance(webhook.DefaultLease)
	h.worker.Nudge()

	// delivered, and recorded once the store answers again, within the lease: delivered once
	a := h.next()
	assert.Equal(t, store.WebhookDelivered, a.outcome)
	assert.Equal(t, 1, a.Number)
	require.Len(t, h.store.recorded(), 1)
	reqs := requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, id, reqs[0].header.Get("X-Optout-Event-Id"))

	h.stop() // for the logs of every delivery
	logs := h.logs.String()
	assert.Contains(t, logs, "claiming webhook events failed")
	assert.Contains(t, logs, "reading the workspace of webhooks failed")
}

func TestRecordFailsForTheWholeLease(t *testing.T) {
	url, requests := recorder(t)
	h := newHarness(t, url)
	h.worker.Timeout, h.worker.Lease = 500*time.Millisecond, time.Second // real time: the lease bounds the retries
	for range 100 {
		h.store.recordErrs = append(h.store.recordErrs, errors.New("database is down"))
	}
	id := h.store.add("acme", "c1", `{}`)
	h.start()
	h.worker.Nudge()

	// delivered, but never recorded: the event is delivered again once its lease runs out
	a := h.next()
	assert.Equal(t, store.WebhookDelivered, a.outcome)
	assert.Empty(t, h.store.recorded())
	h.store.mu.Lock()
	h.store.recordErrs = nil
	h.store.mu.Unlock()
	h.clock.Advance(webhook.DefaultLease)
	h.worker.Nudge()
	a = h.next()
	assert.Equal(t, store.WebhookDelivered, a.outcome)
	assert.Equal(t, 1, a.Number)

	reqs := requests()
	require.Len(t, reqs, 2, "at least once")
	assert.Equal(t, id, reqs[0].header.Get("X-Optout-Event-Id"))
	assert.Equal(t, id, reqs[1].header.Get("X-Optout-Event-Id"))
	assert.Len(t, h.store.recorded(), 1)

	h.stop()
	assert.Contains(t, h.logs.String(), "recording a webhook attempt failed until its lease ran out")
}

func TestRunFinishesDeliveries(t *testing.T) {
	arrived := make(chan struct{}, 1)
	released, release := releaser(t)
	srv, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-released
	})
	h := newHarness(t, srv.URL)
	id := h.store.add("acme", "c1", `{}`)
	h.start()
	t.Cleanup(release) // before stopping the worker

	receive(t, arrived)
	h.cancel()
	select {
	case err := <-h.done:
		h.done <- err
		t.Fatal("Run returned with a delivery in flight")
	case <-time.After(50 * time.Millisecond): // can only miss a bug, never fail a good worker
	}
	release()
	h.stop()

	assert.Equal(t, store.WebhookDelivered, h.store.event(id).Status)
	assert.Equal(t, store.WebhookDelivered, h.next().outcome)
}

func TestRunChecksWorker(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore(t, newFakeClock())
	assert.EqualError(t, (&webhook.Worker{}).Run(ctx), "webhook worker without a store")
	assert.EqualError(t, (&webhook.Worker{Store: s, Timeout: time.Minute}).Run(ctx), "webhook lease 1m0s must be longer than the timeout 1m0s")
	assert.EqualError(t, (&webhook.Worker{Store: s, GiveUpAfter: time.Hour}).Run(ctx), "webhooks must be retried for at least 24h0m0s, not 1h0m0s")

	// a worker that's done at once returns nil
	done, cancel := context.WithCancel(ctx)
	cancel()
	assert.NoError(t, (&webhook.Worker{Store: s}).Run(done))
}
