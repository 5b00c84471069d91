package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
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

// claimAhead is how many events per delivery at once a worker keeps claimed ahead, so that it claims in batches
// rather than an event at a time; it claims again when half of them are gone.
const claimAhead = 32

// Store is what the worker needs of the data layer; store.Store is one.
type Store interface {
	ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int, room map[string]int) ([]*store.WebhookEvent, error)
	ReleaseWebhooks(ctx context.Context, seqs []int64, leasedUntil time.Time) error
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
// The worker claims events in batches, ahead of the deliveries, and starts them a workspace at a time in turn. No
// workspace's endpoint can take every delivery: a workspace has at most PerWorkspace deliveries in flight, and one
// whose last attempt failed, or that has one in flight for longer than SlowAfter, has one, and no events claimed
// ahead: they are released for later. So an endpoint that hangs holds a single worker once it is known to, half of
// them before, and the others deliver other workspaces' events, which the claims find past its backlog. Claims and
// the records of attempts are batches, each one transaction, made while the deliveries go on; a workspace is read
// again once it is workspaceTTL old, so a change of its URL or secret reaches its deliveries within that.
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
	recorded map[string]bool         // workspaces with attempts recorded since the worker last looked
	wrote    chan struct{}           // attempts were recorded
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

// Run delivers events until ctx is done, then releases the events it claimed and didn't start, and waits for the
// deliveries in flight, which are not cancelled but bounded by the lease, so that their attempts are recorded. Store
// errors are logged and retried, so it returns an error only for a worker that is misconfigured.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.init(); err != nil {
		return err
	}
	ahead := claimAhead * w.Concurrency

	var inflight sync.WaitGroup
	records := make(chan *pendingRecord, ahead)
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

	q := &queue{events: map[string][]*claimed{}}
	workspaces := map[string]*cachedWorkspace{}
	defer w.release(q, true)

	slots := make(chan struct{}, w.Concurrency) // a token per delivery in flight
	freed := make(chan struct{}, 1)             // a delivery ended, so a slot and maybe its workspace's room are free

	// A claim runs beside the deliveries, one at a time: a claim is a transaction, which took longer than the
	// deliveries it waited for, and a worker that claimed between them left its slots empty for most of the time.
	claims := make(chan claim, 1)
	claiming := false
	defer func() {
		if claiming { // its events are leased: they are given back with the others queued
			q.addClaim(<-claims)
		}
	}()
	failures := 0
	var retryAt time.Time // of a claim after one failed, unless nudged before
	// fresh: events may have been committed, of any workspace, or come due since the last claim began; more: the last
	// claim may have left due events behind, of the workspaces it took from. Those of workspaces whose endpoints hold
	// their events are claimed at once, so that a workspace waiting for its endpoint doesn't delay the others; but
	// claiming only for more waits until half of the events claimed ahead were started, so that claims are batches.
	fresh, more := true, false

	for {
		w.release(q, false)
		for len(slots) < cap(slots) {
			c := q.next(func(ws string) bool { return w.room(ws) > 0 })
			if c == nil {
				break
			}
			ws, ok := w.workspace(ctx, workspaces, c.ev.Workspace)
			if !ok {
				continue // to be attempted again when its lease runs out
			}
			slots <- struct{}{}
			started := w.started(c.ev.Workspace)
			inflight.Go(func() {
				records <- w.deliver(context.WithoutCancel(ctx), c.ev, ws, started) // before the slot is free: records are bounded
				<-slots
				select {
				case freed <- struct{}{}:
				default:
				}
			})
		}

		wait := w.Poll
		if until := time.Until(retryAt); until > 0 {
			wait = until // unless nudged
		}
		if want := ahead - w.startable(q); !claiming && want > 0 && (fresh || more && q.n <= ahead/2) {
			claiming, fresh, more = true, false, false
			now, room := w.Now(), w.claimRoom(q, ahead)
			go func() {
				events, err := w.Store.ClaimWebhooks(ctx, now, w.Lease, want, room)
				claims <- claim{events: events, err: err, want: want, leasedUntil: now.Add(w.Lease)}
			}()
		}

		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case c := <-claims:
			claiming = false
			if c.err != nil {
				if ctx.Err() != nil {
					return nil
				}
				failures++
				retryAt = time.Now().Add(w.storeRetry(failures))
				w.Log.Error("claiming webhook events failed", "error", c.err, "retry_in", time.Until(retryAt).Round(time.Millisecond))
			} else {
				failures = 0
				more = more || len(c.events) == c.want
				q.addClaim(c)
			}
		case <-w.nudged():
			fresh = true
		case <-w.wrote:
			// a contact's next event may be due, or a workspace's retry; claiming for a workspace that has as many
			// events as it may claimed already would only find nothing
			more = more || w.roomFor(w.claimRoom(q, ahead))
		case <-freed:
		case <-timer.C:
			fresh = true
		}
		timer.Stop()
	}
}

// claim is what a claim leased, or why it failed.
type claim struct {
	events      []*store.WebhookEvent
	err         error
	want        int // events the claim could have leased
	leasedUntil time.Time
}

// claimed is an event the worker leased.
type claimed struct {
	ev          *store.WebhookEvent
	leasedUntil time.Time
}

// queue is the events claimed and not started yet, by workspace, which take turns.
type queue struct {
	events map[string][]*claimed
	turns  []string // the workspaces with events queued, the next to start one first
	n      int
}

// addClaim queues the events a claim leased, if it didn't fail.
func (q *queue) addClaim(c claim) {
	for _, ev := range c.events {
		q.add(&claimed{ev: ev, leasedUntil: c.leasedUntil})
	}
}

func (q *queue) add(c *claimed) {
	ws := c.ev.Workspace
	if len(q.events[ws]) == 0 {
		q.turns = append(q.turns, ws)
	}
	q.events[ws] = append(q.events[ws], c)
	q.n++
}

// next takes the oldest event of the first workspace in turn that may start one, and puts the workspace last.
func (q *queue) next(may func(workspace string) bool) *claimed {
	for i, ws := range q.turns {
		if !may(ws) {
			continue
		}
		events := q.events[ws]
		c := events[0]
		q.n--
		q.turns = slices.Delete(q.turns, i, i+1)
		if len(events) > 1 {
			q.events[ws] = events[1:]
			q.turns = append(q.turns, ws)
		} else {
			delete(q.events, ws)
		}
		return c
	}
	return nil
}

// take removes the events of the workspace for which keep is false.
func (q *queue) take(ws string, keep func(*claimed) bool) []*claimed {
	var taken, kept []*claimed
	for _, c := range q.events[ws] {
		if keep(c) {
			kept = append(kept, c)
		} else {
			taken = append(taken, c)
		}
	}
	q.n -= len(taken)
	if len(kept) > 0 {
		q.events[ws] = kept
	} else {
		delete(q.events, ws)
		q.turns = slices.DeleteFunc(q.turns, func(t string) bool { return t == ws })
	}
	return taken
}

// workspaceTTL is how long the worker delivers a workspace's events as it read the workspace, so that a change of
// its URL or secret applies within it: reading it for each delivery was a round trip per delivery.
const workspaceTTL = time.Second

// cachedWorkspace is a workspace as the worker last read it: nil if it no longer exists, or the error reading it.
type cachedWorkspace struct {
	ws     *store.Workspace
	err    error
	readAt time.Time
}

// workspace returns the workspace of events to deliver, read again once it is workspaceTTL old, and false if it
// can't be read: their events are then attempted again when their leases run out. A workspace that no longer exists
// is nil, which fails its events' attempts.
func (w *Worker) workspace(ctx context.Context, cache map[string]*cachedWorkspace, id string) (*store.Workspace, bool) {
	c := cache[id]
	if c == nil && len(cache) >= 64 { // forget the workspaces that had no events to deliver of late
		maps.DeleteFunc(cache, func(_ string, c *cachedWorkspace) bool { return w.Now().Sub(c.readAt) > workspaceTTL })
	}
	if c == nil || w.Now().Sub(c.readAt) > workspaceTTL {
		ws, err := w.Store.GetWorkspace(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		if err != nil {
			w.Log.Error("reading the workspace of webhooks failed, retrying when their leases run out", "workspace", id, "error", err)
		}
		c = &cachedWorkspace{ws: ws, err: err, readAt: w.Now()}
		cache[id] = c
	}
	return c.ws, c.err == nil
}

// release gives back the leases of queued events that shouldn't wait for a delivery: those of a slow workspace
// that can't start at once, which would wait for its slow attempts longer than the lease, and those whose lease would
// run out before their attempt's timeout; every queued event when all is true. The events are claimable again at once,
// except by this worker for a slow workspace, as long as it stays slow.
func (w *Worker) release(q *queue, all bool) {
	if q.n == 0 {
		return
	}
	deadline := w.Now().Add(w.Timeout)
	byLease := map[time.Time][]int64{}
	for _, ws := range slices.Clone(q.turns) {
		keep := len(q.events[ws])
		if all {
			keep = 0
		} else if w.slow(ws) {
			keep = w.room(ws)
		} else if q.events[ws][0].leasedUntil.After(deadline) {
			continue // a workspace's events are queued in the order they were claimed, so their leases last longer
		}
		for _, c := range q.take(ws, func(c *claimed) bool { keep--; return keep >= 0 && c.leasedUntil.After(deadline) }) {
			byLease[c.leasedUntil] = append(byLease[c.leasedUntil], c.ev.Seq)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxStoreWait)
	defer cancel()
	for leasedUntil, seqs := range byLease {
		if err := w.Store.ReleaseWebhooks(ctx, seqs, leasedUntil); err != nil {
			w.Log.Error("releasing webhook events failed, they wait for their leases to run out", "events", len(seqs), "error", err)
		}
	}
}

// slow tells whether the workspace's endpoint failed its last attempt or is slow to answer one now, which limits it
// to one delivery in flight.
func (w *Worker) slow(workspace string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.slowLocked(workspace)
}

func (w *Worker) slowLocked(workspace string) bool {
	if w.failing[workspace] {
		return true
	}
	for _, started := range w.inflight[workspace] {
		if time.Since(*started) > w.SlowAfter {
			return true
		}
	}
	return false
}

// room is how many more deliveries of the workspace may start: PerWorkspace, or one for a slow one, counting those in
// flight.
func (w *Worker) room(workspace string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	limit := w.PerWorkspace
	if w.slowLocked(workspace) {
		limit = 1
	}
	return limit - len(w.inflight[workspace])
}

// startable counts the queued events of the workspaces that may start a delivery: those of the others wait for
// their endpoints, and may wait long, so they don't keep the worker from claiming others' events.
func (w *Worker) startable(q *queue) int {
	n := 0
	for ws, events := range q.events {
		if w.room(ws) > 0 {
			n += len(events)
		}
	}
	return n
}

// claimRoom is how many more events of each workspace with some in flight or queued a claim may take: of a slow one
// none beyond the one it may have in flight, and of the others as many as are claimed ahead.
func (w *Worker) claimRoom(q *queue, ahead int) map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := map[string]int{}
	for ws, started := range w.inflight {
		room[ws] = -len(started)
	}
	for ws, events := range q.events {
		room[ws] -= len(events)
	}
	for ws, n := range room {
		limit := ahead
		if w.slowLocked(ws) {
			limit = 1
		}
		room[ws] = limit + n
	}
	return room
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
	w.inflight, w.failing, w.recorded = map[string][]*time.Time{}, map[string]bool{}, map[string]bool{}
	w.wrote = make(chan struct{}, 1)
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

// deliver makes an attempt at an event and returns it to be recorded. ctx isn't cancelled on shutdown, so the
// attempt finishes and is recorded; the lease bounds it, as after that the event may be someone else's.
func (w *Worker) deliver(ctx context.Context, ev *store.WebhookEvent, ws *store.Workspace, started *time.Time) *pendingRecord {
	ctx, cancel := context.WithTimeout(ctx, w.Lease)

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
	return &pendingRecord{AttemptRecord: store.AttemptRecord{Attempt: attempt, Outcome: outcome, Next: next}, ctx: ctx, cancel: cancel, workspace: ev.Workspace, created: ev.CreatedOn}
}

// pendingRecord is an attempt waiting to be recorded, until its lease runs out.
type pendingRecord struct {
	store.AttemptRecord
	ctx       context.Context // done when the lease runs out
	cancel    context.CancelFunc
	workspace string
	created   time.Time // of the event
}

// log logs a message about the attempt, with what says which it is; those fields are put together only for a
// message that is logged, as most deliveries' Debug messages aren't.
func (p *pendingRecord) log(w *Worker, level slog.Level, msg string, args ...any) {
	if w.Log.Enabled(context.Background(), level) {
		w.Log.Log(context.Background(), level, msg, append([]any{"event", p.Attempt.EventID, "workspace", p.workspace, "attempt", p.Attempt.Number}, args...)...)
	}
}

// done logs the attempt once it is recorded or given up on, and tells OnAttempt.
func (w *Worker) done(p *pendingRecord) {
	p.cancel()
	a := p.Attempt
	switch p.Outcome {
	case store.WebhookDelivered:
		p.log(w, slog.LevelDebug, "webhook delivered", "status", a.StatusCode, "elapsed_ms", a.Duration.Milliseconds())
	case store.WebhookPending:
		p.log(w, slog.LevelWarn, "webhook attempt failed", "status", a.StatusCode, "error", a.Error, "next", p.Next, "elapsed_ms", a.Duration.Milliseconds())
	case store.WebhookFailed:
		p.log(w, slog.LevelError, "webhook failed for good", "status", a.StatusCode, "error", a.Error, "created_on", p.created)
	}
	if w.OnAttempt != nil {
		w.OnAttempt(a, p.Outcome)
	}
}

// recordAll records the attempts sent to it, those that arrive together in one transaction, until records is closed.
// A round that fails is retried while the store is away, for as long as each attempt's lease lasts: the attempt was
// made, and an outage of the store shouldn't cost the receiver a second delivery. Once its lease runs out an event
// is attempted again, which is the at-least-once delivery receivers are told to expect.
func (w *Worker) recordAll(records <-chan *pendingRecord) {
	for first := range records {
		batch := []*pendingRecord{first}
	more:
		for len(batch) < cap(records) {
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
		w.mu.Lock()
		for _, p := range batch {
			w.recorded[p.workspace] = true
		}
		w.mu.Unlock()
		select {
		case w.wrote <- struct{}{}:
		default:
		}
	}
}

// roomFor takes the workspaces with attempts recorded since it was last called, and tells whether a claim may take
// events of any of them.
func (w *Worker) roomFor(room map[string]int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	found := false
	for ws := range w.recorded {
		if n, bounded := room[ws]; !bounded || n > 0 {
			found = true
		}
	}
	clear(w.recorded)
	return found
}

func (w *Worker) record(batch []*pendingRecord) {
	records := make([]*store.AttemptRecord, len(batch))
	for i, p := range batch {
		records[i] = &p.AttemptRecord
	}
	err := w.Store.RecordAttempts(context.Background(), records)
	if err == nil {
		for _, p := range batch {
			w.done(p)
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
	defer w.done(p)
	if errors.Is(err, store.ErrNotFound) {
		p.log(w, slog.LevelWarn, "a webhook event was deleted while it was attempted, with its workspace", "error", err)
		return
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		select {
		case <-p.ctx.Done():
			p.log(w, slog.LevelError, "recording a webhook attempt failed until its lease ran out, so it will be attempted again", "error", err)
			return
		case <-time.After(wait):
		}
		if err = w.Store.RecordAttempts(context.Background(), records); err == nil {
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
