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

// receiver is the businesses' webhook endpoints, on loopback in the harness: /ok checks each delivery's signature
// and counts it, /hang holds every request without answering until released, and /slow answers after slowAnswer.
type receiver struct {
	base   string
	server *http.Server

	mu      sync.Mutex
	count   int
	first   time.Time
	last    time.Time
	bad     int // deliveries with a wrong signature
	want    int
	reached chan struct{}             // closed when count reaches want
	watches map[string]chan time.Time // by a text the body holds, such as a message's UUID
	hung    chan struct{}             // closed to answer the requests /hang holds

	holding atomic.Int64 // requests /hang and /slow hold
}

func startReceiver() (*receiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{base: "http://" + l.Addr().String(), watches: map[string]chan time.Time{}, hung: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /ok", rc.ok)
	mux.HandleFunc("POST /hang", rc.hang)
	mux.HandleFunc("POST /slow", rc.slow)
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

// url is an endpoint's URL: ok, hang or slow.
func (rc *receiver) url(endpoint string) string { return rc.base + "/" + endpoint }

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
	if !signed {
		rc.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rc.count == 0 {
		rc.first = now
	}
	rc.count++
	rc.last = now
	if rc.count == rc.want {
		close(rc.reached)
	}
	for text, ch := range rc.watches {
		if bytes.Contains(body, []byte(text)) {
			ch <- now
			delete(rc.watches, text)
		}
	}
}

func (rc *receiver) hang(w http.ResponseWriter, req *http.Request) {
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

// expect starts counting deliveries to /ok afresh, and returns a channel closed when n have arrived.
func (rc *receiver) expect(n int) <-chan struct{} {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.count, rc.bad, rc.want = 0, 0, n
	rc.first, rc.last = time.Time{}, time.Time{}
	rc.reached = make(chan struct{})
	return rc.reached
}

// tally returns how many deliveries arrived at /ok since expect, when the first and the last did, and how many had
// a wrong signature.
func (rc *receiver) tally() (count int, first, last time.Time, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.count, rc.first, rc.last, rc.bad
}

// watch returns a channel that gets the time the first delivery to /ok whose body holds text arrives.
func (rc *receiver) watch(text string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	rc.mu.Lock()
	rc.watches[text] = ch
	rc.mu.Unlock()
	return ch
}
