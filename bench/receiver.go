package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/optout-dev/optout/webhook"
)

// slowAnswer is how long the receiver's /slow endpoint takes to answer.
const slowAnswer = 5 * time.Second

// receiver is the businesses' webhook endpoints, on loopback in the harness, with a path for each workspace:
// /ok/WS checks each delivery's signature and counts it, /hang/WS holds every request without answering until
// released, and /slow/WS answers after slowAnswer. Counting by workspace keeps a benchmark's figures clear of
// deliveries still on their way from another.
type receiver struct {
	base   string
	server *http.Server

	mu      sync.Mutex
	tallies map[string]*tally         // by workspace
	watches map[string]chan time.Time // by a text the body holds, such as a message's UUID
	hung    chan struct{}             // closed to answer the requests /hang holds

	holding atomic.Int64 // requests /hang and /slow hold
}

// tally counts a workspace's deliveries to /ok.
type tally struct {
	count   int
	first   time.Time
	last    time.Time
	bad     int // deliveries with a wrong signature
	want    int
	reached chan struct{} // closed when count reaches want
}

func startReceiver() (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{
		base: "http://" + l.Addr().String(), tallies: map[string]*tally{}, watches: map[string]chan time.Time{},
		hung: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ok/{ws}", rc.ok)
	mux.HandleFunc("POST /hang/{ws}", rc.hang)
	mux.HandleFunc("POST /slow/{ws}", rc.slow)
	rc.server = &http.Server{Handler: mux}
	go rc.server.Serve(l)
	return rc, nil
}

// close answers what /hang holds and stops the server.
func (rc *receiver) close() {
	rc.release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc.server.Shutdown(ctx)
}

// url is the URL of an endpoint, ok, hang or slow, for the workspace.
func (rc *receiver) url(endpoint, ws string) string { return rc.base + "/" + endpoint + "/" + ws }

// tallyOf returns the workspace's tally, made if it has none; rc.mu must be held.
func (rc *receiver) tallyOf(ws string) *tally {
	t := rc.tallies[ws]
	if t == nil {
		t = &tally{reached: make(chan struct{})}
		rc.tallies[ws] = t
	}
	return t
}

func (rc *receiver) ok(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	now := time.Now()
	signed := req.Header.Get("X-Optout-Signature") == webhook.Sign(webhookSecret, body)

	rc.mu.Lock()
	defer rc.mu.Unlock()
	t := rc.tallyOf(req.PathValue("ws"))
	if !signed {
		t.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if t.count == 0 {
		t.first = now
	}
	t.count++
	t.last = now
	if t.count == t.want {
		close(t.reached)
	}
	for text, ch := range rc.watches {
		if bytes.Contains(body, []byte(text)) {
			ch <- now
			delete(rc.watches, text)
		}
	}
}

// hang and slow read the body first: until a handler has read it, net/http doesn't watch the connection, and a
// request that the worker gave up on would be held for good.
func (rc *receiver) hang(w http.ResponseWriter, req *http.Request) {
	io.Copy(io.Discard, req.Body)
	rc.holding.Add(1)
	defer rc.holding.Add(-1)
	rc.mu.Lock()
	hung := rc.hung
	rc.mu.Unlock()
	select {
	case <-hung:
	case <-req.Context().Done():
	}
}

func (rc *receiver) slow(w http.ResponseWriter, req *http.Request) {
	io.Copy(io.Discard, req.Body)
	rc.holding.Add(1)
	defer rc.holding.Add(-1)
	select {
	case <-time.After(slowAnswer):
	case <-req.Context().Done():
	}
}

// release answers the requests /hang holds; later ones are held again.
func (rc *receiver) release() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	close(rc.hung)
	rc.hung = make(chan struct{})
}

// expect starts counting the workspace's deliveries to /ok afresh, and returns a channel closed when n have
// arrived.
func (rc *receiver) expect(ws string, n int) <-chan struct{} {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	t := &tally{want: n, reached: make(chan struct{})}
	rc.tallies[ws] = t
	return t.reached
}

// tally returns how many of the workspace's deliveries arrived at /ok since expect, when the first and the last
// did, and how many had a wrong signature.
func (rc *receiver) tally(ws string) (count int, first, last time.Time, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	t := rc.tallyOf(ws)
	return t.count, t.first, t.last, t.bad
}

// watch returns a channel that gets the time the first delivery to /ok whose body holds text arrives, and a
// function that stops watching.
func (rc *receiver) watch(text string) (<-chan time.Time, func()) {
	ch := make(chan time.Time, 1)
	rc.mu.Lock()
	rc.watches[text] = ch
	rc.mu.Unlock()
	return ch, func() {
		rc.mu.Lock()
		delete(rc.watches, text)
		rc.mu.Unlock()
	}
}
