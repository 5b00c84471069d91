package e2e

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
)

// serveEnv is the environment of an `optout serve` for these tests: webhooks retried quickly, so that outages
// resolve within the tests' bounds.
func serveEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"OPTOUT_ADMIN_TOKEN":           adminToken,
		"OPTOUT_WEBHOOK_ALLOW_PRIVATE": "true",
		"OPTOUT_WEBHOOK_RETRY_FIRST":   "200ms",
		"OPTOUT_WEBHOOK_RETRY_MAX":     "2s",
		"OPTOUT_WEBHOOK_POLL":          "100ms",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// TestCrashes streams keyword messages while killing the service with SIGKILL and starting it again, the client
// retrying what failed as a channel would. Every acknowledged keyword must have taken effect exactly once, and
// every change must reach the webhook receiver.
func TestCrashes(t *testing.T) {
	const messages, contacts, clients, minKills = 5000, 500, 8, 5

	receiver := newReceiver(t)
	srv := testenv.StartServe(t, serveEnv(map[string]string{"OPTOUT_DB": testenv.PostgresSchema(t), "OPTOUT_REDIS": testenv.Redis(t)}))
	admin := &client{t: t, base: srv.URL, token: adminToken}
	ws, member := setup(t, admin, receiver.URL())

	// the plan: random keywords for random contacts; each client owns some contacts, so that it sends each one's
	// messages in order
	rng := rand.New(rand.NewPCG(4, 2))
	plans := make([][]*message, clients)
	for range messages {
		c := rng.IntN(contacts)
		plans[c%clients] = append(plans[c%clients], randomMessage(rng, urnOf(c)))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l := newLedger()
	var sending sync.WaitGroup
	for _, plan := range plans {
		sending.Go(func() {
			for _, m := range plan {
				l.send(ctx, t, member, ws, m)
			}
		})
	}

	// the crashes, while the messages stream in, at random moments
	var kills atomic.Int32
	done := make(chan struct{})
	go func() { sending.Wait(); close(done) }()
	start := time.Now()
	for crashing := true; crashing; {
		select {
		case <-done:
			crashing = false
		case <-time.After(time.Duration(2000+rng.IntN(3000)) * time.Millisecond):
			srv.Crash(t)
			kills.Add(1)
		}
	}
	elapsed := time.Since(start)
	require.Equal(t, messages, l.n, "every message acknowledged in the end")
	require.GreaterOrEqual(t, int(kills.Load()), minKills, "killed often enough while the messages streamed")

	changes := l.verify(t, member, ws, receiver)
	receiver.mu.Lock()
	duplicates := len(receiver.received) - changes
	receiver.mu.Unlock()
	t.Logf("%d messages over %d contacts in %s with %d SIGKILLs: %d changes, each audited once and notified (%d deliveries repeated)",
		messages, contacts, elapsed.Round(time.Second), kills.Load(), changes, duplicates)
}

// TestWebhookReceiverOutage has the receiver fail, then refuse connections, then come back: every event arrives, in
// order per contact, and the delivery log shows the attempts spaced out by the backoff.
func TestWebhookReceiverOutage(t *testing.T) {
	receiver := newReceiver(t)
	receiver.setMode("fail")
	srv := testenv.StartServe(t, serveEnv(map[string]string{"OPTOUT_DB": testenv.PostgresSchema(t), "OPTOUT_REDIS": testenv.Redis(t)}))
	admin := &client{t: t, base: srv.URL, token: adminToken}
	ws, member := setup(t, admin, receiver.URL())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l := newLedger()
	for c := range 5 {
		for i := range 6 {
			m := &message{uuid: string(uuids.NewV4()), urn: urnOf(c), text: "parar", status: "opted_out"}
			if i%2 == 1 {
				m.text, m.status = "#voltar", "opted_in"
			}
			l.send(ctx, t, member, ws, m)
		}
	}

	require.Eventually(t, func() bool { return receiver.failures() >= 15 }, time.Minute, 50*time.Millisecond, "the receiver answered 500s")
	receiver.refuse()
	refused := func() bool {
		for _, e := range member.all("/v1/workspaces/" + ws + "/webhooks?status=pending") {
			if lastErr, _ := jsonPath(e, "last_error").(string); strings.Contains(lastErr, "refused") {
				return true
			}
		}
		return false
	}
	require.Eventually(t, refused, time.Minute, 100*time.Millisecond, "deliveries were refused")
	receiver.setMode("ok")
	receiver.resume()

	l.verify(t, member, ws, receiver)

	// the delivery log: the 500s and the refusals, and attempts spaced out by the backoff, each wait at least half
	// the nominal one, which doubles from 200ms up to 2s
	var codes, errs []string
	longest := 0
	var span time.Duration
	for _, e := range member.all("/v1/workspaces/" + ws + "/webhooks") {
		status, body := member.do("GET", "/v1/workspaces/"+ws+"/webhooks/"+jsonPath(e, "id").(string), nil)
		require.Equal(t, http.StatusOK, status, body)
		var event struct {
			Status string `json:"status"`
			Log    []struct {
				StartedOn  time.Time `json:"started_on"`
				StatusCode int       `json:"status_code"`
				Error      string    `json:"error"`
			} `json:"log"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &event))
		assert.Equal(t, "delivered", event.Status)
		require.NotEmpty(t, event.Log)
		assert.Equal(t, 200, event.Log[len(event.Log)-1].StatusCode, "delivered by its last attempt")

		nominal := 200 * time.Millisecond
		for i := 1; i < len(event.Log); i++ {
			gap := event.Log[i].StartedOn.Sub(event.Log[i-1].StartedOn)
			assert.GreaterOrEqual(t, gap, nominal/2, "wait before attempt %d", i+1)
			nominal = min(2*nominal, 2*time.Second)
			codes = append(codes, http.StatusText(event.Log[i-1].StatusCode))
			errs = append(errs, event.Log[i-1].Error)
		}
		if len(event.Log) > longest {
			longest, span = len(event.Log), event.Log[len(event.Log)-1].StartedOn.Sub(event.Log[0].StartedOn)
		}
	}
	assert.Contains(t, codes, "Internal Server Error")
	assert.Contains(t, strings.Join(errs, "\n"), "refused")
	t.Logf("30 events delivered in order per contact after 500s and refused connections; the most tried took %d attempts over %s", longest, span.Round(time.Millisecond))
}

// TestPostgresOutage restarts PostgreSQL while messages stream in: requests during the outage get a 503 saying so,
// nothing is acknowledged that wasn't committed, and the service recovers by itself.
func TestPostgresOutage(t *testing.T) {
	pg := testenv.StartPostgres(t)
	receiver := newReceiver(t)
	srv := testenv.StartServe(t, serveEnv(map[string]string{"OPTOUT_DB": pg.URL(), "OPTOUT_REDIS": testenv.Redis(t)}))
	admin := &client{t: t, base: srv.URL, token: adminToken}
	ws, member := setup(t, admin, receiver.URL())

	var unavailable atomic.Int32
	var outageErrors sync.Map
	member.observe = func(status int, body string) {
		if status == http.StatusServiceUnavailable {
			unavailable.Add(1)
			outageErrors.Store(jsonPath(body, "error"), true)
		}
	}

	l := newLedger()
	acked, finish := l.stream(t, member, ws)

	require.Eventually(t, func() bool { return acked.Load() >= 100 }, time.Minute, 10*time.Millisecond)
	pg.Stop()
	require.Eventually(t, func() bool { return unavailable.Load() >= 4 }, time.Minute, 10*time.Millisecond, "requests during the outage got 503s")
	status, body := member.do("GET", "/healthz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, body)
	time.Sleep(2 * time.Second)
	pg.Start()

	// the same process serves again once PostgreSQL is back
	before := acked.Load()
	require.Eventually(t, func() bool { return acked.Load() >= before+100 }, 2*time.Minute, 10*time.Millisecond, "serving again without a restart")
	finish()

	outageErrors.Range(func(msg, _ any) bool {
		assert.Contains(t, msg, "the database is unavailable, try again later", "a clear error")
		return true
	})
	changes := l.verify(t, member, ws, receiver)
	t.Logf("%d messages acknowledged around a PostgreSQL restart, %d answered 503 during it and retried; %d changes, all committed", l.n, unavailable.Load(), changes)
}

// TestRedisOutage stops Redis while messages stream in: every answer stays a 200, with PostgreSQL's locks, and Redis is
// used again once it is back.
func TestRedisOutage(t *testing.T) {
	rs := testenv.StartRedis(t)
	receiver := newReceiver(t)
	srv := testenv.StartServe(t, serveEnv(map[string]string{"OPTOUT_DB": testenv.PostgresSchema(t), "OPTOUT_REDIS": rs.URL()}))
	admin := &client{t: t, base: srv.URL, token: adminToken}
	ws, member := setup(t, admin, receiver.URL())

	var failed atomic.Int32
	member.observe = func(status int, body string) {
		if status != http.StatusOK {
			failed.Add(1)
			t.Errorf("answered %d while Redis was away: %s", status, body)
		}
	}
	redisState := func() string {
		_, body := member.do("GET", "/healthz", nil)
		s, _ := jsonPath(body, "redis").(string)
		return s
	}

	l := newLedger()
	acked, finish := l.stream(t, member, ws)

	require.Eventually(t, func() bool { return acked.Load() >= 100 && redisState() == "ok" }, time.Minute, 10*time.Millisecond)
	rs.Kill()
	require.Eventually(t, func() bool { return strings.HasPrefix(redisState(), "unavailable") }, time.Minute, 50*time.Millisecond)
	during := acked.Load()
	require.Eventually(t, func() bool { return acked.Load() >= during+100 }, time.Minute, 10*time.Millisecond, "serving without Redis")
	rs.Start()
	require.Eventually(t, func() bool { return redisState() == "ok" }, time.Minute, 50*time.Millisecond, "Redis used again")
	after := acked.Load()
	require.Eventually(t, func() bool { return acked.Load() >= after+100 }, time.Minute, 10*time.Millisecond)
	finish()

	// the restarted Redis is in use again: the contacts of the messages since were locked in it
	conn, err := redis.DialURL(rs.URL())
	require.NoError(t, err)
	defer conn.Close()
	stats, err := redis.String(conn.Do("INFO", "commandstats"))
	require.NoError(t, err)
	assert.Regexp(t, `cmdstat_set:calls=[1-9]`, stats, "locks taken in the restarted Redis")

	changes := l.verify(t, member, ws, receiver)
	assert.Zero(t, failed.Load())
	t.Logf("%d messages acknowledged across a Redis outage and its return, none failed; %d changes", l.n, changes)
}

// stream sends random keywords from 4 clients, each to 25 contacts of its own, until finish is called, which waits
// for the messages in flight. It returns the count of acknowledged messages as it goes.
func (l *ledger) stream(t *testing.T, c *client, ws string) (*atomic.Int32, func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	var acked atomic.Int32
	stop := make(chan struct{})
	var sending sync.WaitGroup
	for w := range 4 {
		sending.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				l.send(ctx, t, c, ws, randomMessage(rng, urnOf(w*100+i%25)))
				acked.Add(1)
			}
		})
	}
	var once sync.Once
	finish := func() {
		once.Do(func() {
			close(stop)
			sending.Wait()
			cancel()
		})
	}
	t.Cleanup(finish) // so that a test that fails early doesn't leave clients behind it
	return &acked, finish
}

// TestDuplicateMessage posts one message 20 times at once: it is processed once and every answer is the same.
func TestDuplicateMessage(t *testing.T) {
	receiver := newReceiver(t)
	srv := testenv.StartServe(t, serveEnv(map[string]string{"OPTOUT_DB": testenv.PostgresSchema(t), "OPTOUT_REDIS": testenv.Redis(t)}))
	admin := &client{t: t, base: srv.URL, token: adminToken}
	ws, member := setup(t, admin, receiver.URL())

	body, _ := json.Marshal(map[string]string{"uuid": string(uuids.NewV4()), "urn": urnOf(1), "text": "PARAR"})
	answers := make([]string, 20)
	start := make(chan struct{})
	var posting sync.WaitGroup
	for i := range answers {
		posting.Go(func() {
			<-start
			status, resp := member.doRaw("POST", "/v1/workspaces/"+ws+"/messages", body)
			assert.Equal(t, http.StatusOK, status, resp)
			answers[i] = resp
		})
	}
	close(start)
	posting.Wait()

	for _, a := range answers[1:] {
		assert.JSONEq(t, answers[0], a)
	}
	assert.Len(t, member.all("/v1/workspaces/"+ws+"/events"), 1)
	assert.Len(t, member.all("/v1/workspaces/"+ws+"/webhooks"), 1)
	assert.Len(t, member.all("/v1/workspaces/"+ws+"/outbox"), 1, "one reply")
	assert.Len(t, receiver.await(t, 1), 1)
}

// TestTwoInstances runs two processes on one PostgreSQL and Redis and sends one contact's opt-outs and opt-ins to
// them in turn, then all at once: the contact's changes are kept in order either way.
func TestTwoInstances(t *testing.T) {
	receiver := newReceiver(t)
	env := serveEnv(map[string]string{"OPTOUT_DB": testenv.PostgresSchema(t), "OPTOUT_REDIS": testenv.Redis(t)})
	a, b := testenv.StartServe(t, env), testenv.StartServe(t, env)
	admin := &client{t: t, base: a.URL, token: adminToken}
	ws, viaA := setup(t, admin, receiver.URL())
	viaB := &client{t: t, base: b.URL, token: viaA.token}

	// in turn: each acknowledged before the next is sent, to one instance then the other
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l := newLedger()
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range 40 {
		m := randomMessage(rng, urnOf(1))
		if i%2 == 0 {
			l.send(ctx, t, viaA, ws, m)
		} else {
			l.send(ctx, t, viaB, ws, m)
		}
	}
	turns := l.verify(t, viaA, ws, receiver)

	// all at once: whatever order they are handled in, the audit log is one chain of changes, the contact ends in
	// the status of its last change, and the webhooks follow the same order
	urn := urnOf(2)
	var posting sync.WaitGroup
	for i := range 40 {
		via := viaA
		if i%2 == 1 {
			via = viaB
		}
		m := randomMessage(rng, urn)
		posting.Go(func() { via.send(ctx, ws, m.uuid, m.urn, m.text) })
	}
	posting.Wait()

	events := viaB.all("/v1/workspaces/" + ws + "/events?contact=" + urn)
	require.NotEmpty(t, events)
	status := "undefined"
	var order []string
	for _, e := range events {
		assert.Equal(t, status, jsonPath(e, "before"), "each change starts where the last ended")
		status = jsonPath(e, "after").(string)
		order = append(order, jsonPath(e, "msg_uuid").(string))
	}
	_, contact := viaB.do("GET", "/v1/workspaces/"+ws+"/contacts/"+urn, nil)
	assert.Equal(t, status, jsonPath(contact, "opt_status"))

	delivered := receiver.await(t, turns+len(events))
	var notified []string
	for _, d := range delivered {
		if jsonPath(d.body, "data", "urn") == urn {
			notified = append(notified, jsonPath(d.body, "data", "msg_uuid").(string))
		}
	}
	assert.Equal(t, order, notified, "webhooks in the order of the changes")
	t.Logf("two instances: %d changes in turn and %d of 40 concurrent messages changed the contact, in one order", turns, len(events))
}
