package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/optout-dev/optout/store"
)

// UserAgent is the User-Agent of every webhook request.
const UserAgent = "optout-webhook/1 (+https://github.com/optout-dev/optout)"

// Defaults of a Worker's zero fields.
const (
	DefaultConcurrency = 8
	DefaultTimeout     = 10 * time.Second
	DefaultLease       = time.Minute
	DefaultPoll        = 5 * time.Second
	DefaultGiveUpAfter = 25 * time.Hour
	DefaultSlowAfter   = time.Second
)

// MinGiveUpAfter is the shortest retry period a Worker accepts: the product promises a day of retries.
const MinGiveUpAfter = 24 * time.Hour

const (
	maxResponse  = 64 << 10    // read of a response, so that its connection can be reused
	maxExcerpt   = 200         // bytes of a failed response kept in the delivery log
	maxStoreWait = time.Minute // between claims while the store fails
)

// Store is what the worker needs of the data layer; store.Store is one.
type Store interface {
	ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int, room func(workspace string) int) ([]*store.WebhookEvent, error)
	RecordAttempts(ctx context.Context, records []*store.AttemptRecord) error
	GetWorkspace(ctx context.Context, id string) (*store.Workspace, error)
}

// Worker delivers the webhook outbox. All its state is in the store, so any number of workers, in one process or
// many, share the outbox through leases, and a restart loses nothing. Delivery is at least once: a worker that dies
// between the receiver's answer and recording it leaves the event to be claimed again when the lease runs out, so
// receivers must expect an X-Optout-Event-Id twice.
//
// Every failure of an attempt is recorded and retried after Backoff: an error status, a redirect, no connection, a
// timeout, a URL the policy refuses, a workspace without a URL (so that configuring one delivers the backlog) or
// without a workspace. An event that still fails GiveUpAfter after it was created is marked failed.
//
// No workspace's endpoint can take every delivery: a workspace has at most PerWorkspace deliveries in flight, and one
// whose last attempt failed, or that has one in flight for longer than SlowAfter, has one. So an endpoint that hangs
// holds a single worker once it is known to, half of them before, and the others deliver other workspaces' events.
// The attempts of a round are recorded together, in one transaction.
//
// Run fills in the zero fields with their defaults; the fields must not change once it runs.
type Worker struct {
	Store        Store
	Policy       *Policy       // where webhooks may go; nil is the zero policy, which refuses private addresses
	Timeout      time.Duration // of an attempt, from connecting to reading the response
	Concurrency  int           // deliveries in flight at most
	PerWorkspace int           // of one workspace; half of Concurrency, at least one, when 0
	SlowAfter    time.Duration // an attempt in flight this long makes its workspace slow
	Lease        time.Duration // how long a claimed event is this worker's; longer than Timeout
	Poll         time.Duration // how often to look for due events when not nudged
	Backoff      Backoff       // DefaultBackoff when nil
	GiveUpAfter  time.Duration // at least MinGiveUpAfter
	Now          func() time.Time
	Log          *slog.Logger
	OnAttempt    func(a *store.WebhookAttempt, outcome store.WebhookStatus) // after each attempt, for metrics; may be nil

	once       sync.Once
	nudges     chan struct{}
	client     *http.Client
	storeRetry Backoff

	mu       sync.Mutex
	inflight map[string][]*time.Time // when each of each workspace's deliveries in flight started
	failing  map[string]bool         // workspaces whose last attempt failed
}

// Nudge tells the worker that events were committed, so that it delivers them without waiting for the next poll.
// It never blocks, and may be called before Run.
func (w *Worker) Nudge() {
	select {
	case w.nudged() <- struct{}{}:
	default: // a nudge is pending already
	}
}

func (w *Worker) nudged() chan struct{} {
	w.once.Do(func() { w.nudges = make(chan struct{}, 1) })
	return w.nudges
}

// Run delivers events until ctx is done, then waits for the deliveries in flight, which are not cancelled but
// bounded by the lease, so that their attempts are recorded. Store errors are logged and retried, so it returns an
// error only for a worker that is misconfigured.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.init(); err != nil {
		return err
	}

	var inflight sync.WaitGroup
	records := make(chan *pendingRecord, w.Concurrency)
	recording := make(chan struct{})
	go func() {
		defer close(recording)
		w.recordAll(records)
	}()
	defer func() {
		inflight.Wait()
		close(records)
		<-recording
	}()

	slots := make(chan struct{}, w.Concurrency) // a token per delivery in flight
	freed := make(chan struct{}, 1)             // a delivery ended, so a slot and maybe its contact's next event are free
	failures := 0

	for {
		wait := w.Poll
		if free := w.Concurrency - len(slots); free > 0 {
			events, err := w.Store.ClaimWebhooks(ctx, w.Now(), w.Lease, free, w.room)
			if err != nil && ctx.Err() != nil {
				return nil
			}
			if err != nil {
				failures++
				wait = w.storeRetry(failures)
				w.Log.Error("claiming webhook events failed", "error", err, "retry_in", wait)
			} else {
				failures = 0
				workspaces := w.workspaces(ctx, events)
				for _, ev := range events {
					ws, ok := workspaces[ev.Workspace]
					if !ok {
						continue // its workspace couldn't be read: it is attempted again when its lease runs out
					}
					slots <- struct{}{}
					started := w.started(ev.Workspace)
					inflight.Go(func() {
						defer func() {
							<-slots
							select {
							case freed <- struct{}{}:
							default:
							}
						}()
						w.deliver(context.WithoutCancel(ctx), ev, ws, started, records)
					})
				}
			}
		}

		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-w.nudged():
		case <-freed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// room is how many more deliveries of the workspace may start: PerWorkspace, but one for a workspace whose endpoint
// failed its last attempt or is slow to answer one now, counting those in flight.
func (w *Worker) room(workspace string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	limit := w.PerWorkspace
	if w.failing[workspace] {
		limit = 1
	}
	for _, started := range w.inflight[workspace] {
		if time.Since(*started) > w.SlowAfter {
			limit = 1
		}
	}
	return limit - len(w.inflight[workspace])
}

// started counts a delivery of the workspace in flight, and returns when it started, which ended takes back.
func (w *Worker) started(workspace string) *time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	w.inflight[workspace] = append(w.inflight[workspace], &now)
	return &now
}

// ended counts a delivery of the workspace out, and remembers whether its endpoint failed it.
func (w *Worker) ended(workspace string, started *time.Time, failed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inflight[workspace] = slices.DeleteFunc(w.inflight[workspace], func(t *time.Time) bool { return t == started })
	if len(w.inflight[workspace]) == 0 {
		delete(w.inflight, workspace)
	}
	if failed {
		w.failing[workspace] = true
	} else {
		delete(w.failing, workspace)
	}
}

// workspaces reads the workspaces of a round's events, each once. A workspace that no longer exists is nil, which
// fails its events' attempts; one that can't be read is left out, so its events wait for their leases to run out.
func (w *Worker) workspaces(ctx context.Context, events []*store.WebhookEvent) map[string]*store.Workspace {
	workspaces := map[string]*store.Workspace{}
	failed := map[string]bool{}
	for _, ev := range events {
		if _, done := workspaces[ev.Workspace]; done || failed[ev.Workspace] {
			continue
		}
		ws, err := w.Store.GetWorkspace(ctx, ev.Workspace)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			w.Log.Error("reading the workspace of webhooks failed, retrying when their leases run out", "workspace", ev.Workspace, "error", err)
			failed[ev.Workspace] = true
			continue
		}
		workspaces[ev.Workspace] = ws
	}
	return workspaces
}

// init checks the worker and fills in its defaults.
func (w *Worker) init() error {
	if w.Store == nil {
		return errors.New("webhook worker without a store")
	}
	if w.Policy == nil {
		w.Policy = &Policy{}
	}
	w.Timeout = positive(w.Timeout, DefaultTimeout)
	w.Concurrency = positive(w.Concurrency, DefaultConcurrency)
	w.Lease = positive(w.Lease, DefaultLease)
	w.PerWorkspace = positive(w.PerWorkspace, max(1, (w.Concurrency+1)/2))
	w.SlowAfter = positive(w.SlowAfter, DefaultSlowAfter)
	w.inflight, w.failing = map[string][]*time.Time{}, map[string]bool{}
	w.Poll = positive(w.Poll, DefaultPoll)
	w.GiveUpAfter = positive(w.GiveUpAfter, DefaultGiveUpAfter)
	if w.Backoff == nil {
		w.Backoff = DefaultBackoff
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Log == nil {
		w.Log = slog.Default()
	}
	if w.Lease <= w.Timeout {
		return fmt.Errorf("webhook lease %s must be longer than the timeout %s", w.Lease, w.Timeout)
	}
	if w.GiveUpAfter < MinGiveUpAfter {
		return fmt.Errorf("webhooks must be retried for at least %s, not %s", MinGiveUpAfter, w.GiveUpAfter)
	}
	w.client = w.Policy.Client(w.Timeout)
	w.storeRetry = Exponential(w.Poll, max(w.Poll, maxStoreWait))
	return nil
}

func positive[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// deliver makes an attempt at an event and has it recorded. ctx isn't cancelled on shutdown, so the attempt finishes
// and is recorded; the lease bounds it, as after that the event may be someone else's. ws is nil when the workspace
// no longer exists.
func (w *Worker) deliver(ctx context.Context, ev *store.WebhookEvent, ws *store.Workspace, started *time.Time, records chan<- *pendingRecord) {
	ctx, cancel := context.WithTimeout(ctx, w.Lease)
	defer cancel()

	log := w.Log.With("event", ev.ID, "workspace", ev.Workspace, "attempt", ev.Attempts+1)
	attempt := &store.WebhookAttempt{EventID: ev.ID, Number: ev.Attempts + 1, StartedOn: w.Now()}
	var err error
	if ws == nil {
		err = errors.New("workspace not found")
	} else {
		attempt.StatusCode, err = w.post(ctx, ws, ev)
	}
	attempt.Duration = time.Since(*started)
	if err != nil {
		attempt.Error = err.Error()
		if ws != nil {
			attempt.Error = redact(attempt.Error, ws.WebhookSecret, Sign(ws.WebhookSecret, ev.Body))
		}
	}
	w.ended(ev.Workspace, started, err != nil)

	outcome, next := w.outcome(ev, attempt)
	p := &pendingRecord{AttemptRecord: store.AttemptRecord{Attempt: attempt, Outcome: outcome, Next: next}, ctx: ctx, log: log, done: make(chan struct{})}
	records <- p
	<-p.done

	switch outcome {
	case store.WebhookDelivered:
		log.Debug("webhook delivered", "status", attempt.StatusCode, "elapsed_ms", attempt.Duration.Milliseconds())
	case store.WebhookPending:
		log.Warn("webhook attempt failed", "status", attempt.StatusCode, "error", attempt.Error, "next", next, "elapsed_ms", attempt.Duration.Milliseconds())
	case store.WebhookFailed:
		log.Error("webhook failed for good", "status", attempt.StatusCode, "error", attempt.Error, "created_on", ev.CreatedOn)
	}
	if w.OnAttempt != nil {
		w.OnAttempt(attempt, outcome)
	}
}

// pendingRecord is an attempt waiting to be recorded, until its lease runs out.
type pendingRecord struct {
	store.AttemptRecord
	ctx  context.Context // done when the lease runs out
	log  *slog.Logger
	done chan struct{} // closed once recorded, or given up on
}

// recordAll records the attempts sent to it, those that arrive together in one transaction, until records is closed.
// A round that fails is retried while the store is away, for as long as each attempt's lease lasts: the attempt was
// made, and an outage of the store shouldn't cost the receiver a second delivery. Once its lease runs out an event
// is attempted again, which is the at-least-once delivery receivers are told to expect.
func (w *Worker) recordAll(records <-chan *pendingRecord) {
	for first := range records {
		batch := []*pendingRecord{first}
	more:
		for len(batch) < w.Concurrency {
			select {
			case p, ok := <-records:
				if !ok {
					break more
				}
				batch = append(batch, p)
			default:
				break more
			}
		}
		w.record(batch)
	}
}

func (w *Worker) record(batch []*pendingRecord) {
	records := make([]*store.AttemptRecord, len(batch))
	for i, p := range batch {
		records[i] = &p.AttemptRecord
	}
	err := w.Store.RecordAttempts(context.Background(), records)
	if err == nil {
		for _, p := range batch {
			close(p.done)
		}
		return
	}
	if len(batch) > 1 {
		for _, p := range batch { // one at a time, so that one that can't be recorded holds up none of the others
			w.record([]*pendingRecord{p})
		}
		return
	}

	p := batch[0]
	if errors.Is(err, store.ErrNotFound) {
		p.log.Warn("a webhook event was deleted while it was attempted, with its workspace", "error", err)
		close(p.done)
		return
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		select {
		case <-p.ctx.Done():
			p.log.Error("recording a webhook attempt failed until its lease ran out, so it will be attempted again", "error", err)
			close(p.done)
			return
		case <-time.After(wait):
		}
		if err = w.Store.RecordAttempts(context.Background(), records); err == nil {
			close(p.done)
			return
		}
	}
}

// post posts the event to the workspace's URL, and returns the response's status and, if it isn't a 2xx, why.
func (w *Worker) post(ctx context.Context, ws *store.Workspace, ev *store.WebhookEvent) (int, error) {
	if ws.WebhookURL == "" {
		return 0, errors.New("workspace has no webhook URL")
	}
	u, err := w.Policy.parse(ws.WebhookURL)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(ev.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("X-Optout-Event-Id", ev.ID)
	req.Header.Set("X-Optout-Signature", Sign(ws.WebhookSecret, ev.Body))

	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))

	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, nil // a body cut short doesn't matter once the status says delivered
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		to := resp.Header.Get("Location")
		if loc, err := resp.Location(); err == nil {
			to = loc.String()
		}
		return resp.StatusCode, fmt.Errorf("redirect to %q not followed", to)
	case err != nil:
		return resp.StatusCode, fmt.Errorf("status %d, reading the response: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, fmt.Errorf("status %d: %s", resp.StatusCode, excerpt(body))
}

// outcome decides what becomes of an event after an attempt: delivered, due again after the backoff, or failed
// once it is GiveUpAfter old. The last retry is put at that deadline, so the retries span exactly GiveUpAfter.
func (w *Worker) outcome(ev *store.WebhookEvent, a *store.WebhookAttempt) (store.WebhookStatus, time.Time) {
	if a.Error == "" {
		return store.WebhookDelivered, time.Time{}
	}
	now := w.Now()
	deadline := ev.CreatedOn.Add(w.GiveUpAfter)
	if !now.Before(deadline) {
		return store.WebhookFailed, time.Time{}
	}
	next := now.Add(w.Backoff(a.Number))
	if next.After(deadline) {
		next = deadline
	}
	return store.WebhookPending, next
}

// excerpt returns the start of a response body on one line, for the delivery log.
func excerpt(body []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "\uFFFD")), " ")
	if len(s) <= maxExcerpt {
		return s
	}
	cut := maxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redact removes secrets from text that comes from elsewhere: a receiver may echo the request in its error page.
func redact(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
