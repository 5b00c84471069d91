package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

// the real store is what the worker is given in production
var _ webhook.Store = store.Store(nil)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// fakeStore keeps the outbox in memory with the real store's rules: leases, and only the oldest pending event of a
// contact is ever claimed. It fails the test when the worker breaks its side of the contract: recording an attempt
// for an event it doesn't hold or with the wrong number.
type fakeStore struct {
	t     *testing.T
	clock *fakeClock

	mu         sync.Mutex
	workspaces map[string]*store.Workspace
	events     []*fakeEvent // by Seq
	attempts   []*store.WebhookAttempt
	claimErrs  []error // returned by the next claims
	recordErrs []error // returned by the next records, which then record nothing
	wsErrs     []error // returned by the next workspace reads
	wsFailed   chan struct{}
}

type fakeEvent struct {
	store.WebhookEvent
	leasedUntil time.Time
}

func newFakeStore(t *testing.T, clock *fakeClock, workspaces ...*store.Workspace) *fakeStore {
	s := &fakeStore{t: t, clock: clock, workspaces: map[string]*store.Workspace{}, wsFailed: make(chan struct{}, 10)}
	for _, ws := range workspaces {
		s.workspaces[ws.ID] = ws
	}
	return s
}

// add queues an event of the contact, created now, and returns its ID.
func (s *fakeStore) add(workspace string, contact flows.ContactUUID, body string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := int64(len(s.events) + 1)
	now := s.clock.Now()
	ev := &fakeEvent{WebhookEvent: store.WebhookEvent{
		ID:          fmt.Sprintf("0197b335-6ded-79a4-95a6-%012d", seq),
		Seq:         seq,
		Workspace:   workspace,
		ContactUUID: contact,
		Body:        []byte(body),
		Status:      store.WebhookPending,
		NextAttempt: now,
		CreatedOn:   now,
	}}
	s.events = append(s.events, ev)
	return ev.ID
}

func (s *fakeStore) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int, room map[string]int) ([]*store.WebhookEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.claimErrs) > 0 {
		err := s.claimErrs[0]
		s.claimErrs = s.claimErrs[1:]
		return nil, err
	}
	var claimed []*store.WebhookEvent
	seen := map[flows.ContactUUID]bool{}
	left := maps.Clone(room)
	for _, e := range s.events {
		if e.Status != store.WebhookPending || seen[e.ContactUUID] {
			continue
		}
		seen[e.ContactUUID] = true // later events of the contact wait for this one
		if len(claimed) == limit {
			break
		}
		if e.NextAttempt.After(now) || e.leasedUntil.After(now) {
			continue
		}
		if n, bounded := left[e.Workspace]; bounded {
			if n <= 0 {
				continue
			}
			left[e.Workspace]--
		}
		e.leasedUntil = now.Add(lease)
		c := e.WebhookEvent
		claimed = append(claimed, &c)
	}
	return claimed, nil
}

func (s *fakeStore) ReleaseWebhooks(ctx context.Context, seqs []int64, leasedUntil time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if slices.Contains(seqs, e.Seq) && e.leasedUntil.Equal(leasedUntil) {
			e.leasedUntil = time.Time{}
		}
	}
	return nil
}

func (s *fakeStore) RecordAttempts(ctx context.Context, records []*store.AttemptRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recordErrs) > 0 {
		err := s.recordErrs[0]
		s.recordErrs = s.recordErrs[1:]
		return err
	}
	for _, r := range records {
		a := r.Attempt
		e := s.find(a.EventID)
		if e == nil || e.leasedUntil.IsZero() {
			s.t.Errorf("attempt recorded for event %s, which isn't leased", a.EventID)
			return errors.New("not leased")
		}
		if a.Number != e.Attempts+1 {
			s.t.Errorf("attempt %d recorded for event %s after %d attempts", a.Number, a.EventID, e.Attempts)
		}
	}
	for _, r := range records {
		a := r.Attempt
		e := s.find(a.EventID)
		c := *a
		s.attempts = append(s.attempts, &c)
		e.Attempts = a.Number
		e.Status = r.Outcome
		e.NextAttempt = r.Next
		e.LastError = a.Error
		if r.Outcome == store.WebhookDelivered {
			e.DeliveredOn = a.StartedOn
		}
		e.leasedUntil = time.Time{}
	}
	return nil
}

func (s *fakeStore) GetWorkspace(ctx context.Context, id string) (*store.Workspace, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.wsErrs) > 0 {
		err := s.wsErrs[0]
		s.wsErrs = s.wsErrs[1:]
		s.wsFailed <- struct{}{}
		return nil, err
	}
	ws, ok := s.workspaces[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := *ws
	return &c, nil
}

func (s *fakeStore) setWebhookURL(workspace, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workspaces[workspace].WebhookURL = url
}

func (s *fakeStore) event(id string) store.WebhookEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.find(id).WebhookEvent
}

func (s *fakeStore) find(id string) *fakeEvent {
	for _, e := range s.events {
		if e.ID == id {
			return e
		}
	}
	return nil
}

func (s *fakeStore) recorded() []store.WebhookAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.WebhookAttempt, len(s.attempts))
	for i, a := range s.attempts {
		out[i] = *a
	}
	return out
}

// fakeResolver answers host names from a table, as tests have no DNS. A host with several answers gets the
// next one at each lookup and then keeps the last, which is how a rebinding DNS server behaves.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]string
}

func (r *fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	host = strings.TrimSuffix(strings.ToLower(host), ".") // as DNS does
	answers := r.answers[host]
	if len(answers) == 0 {
		return nil, fmt.Errorf("lookup %s: no such host", host)
	}
	answer := answers[0]
	if len(answers) > 1 {
		r.answers[host] = answers[1:]
	}
	addrs := make([]netip.Addr, len(answer))
	for i, a := range answer {
		addrs[i] = netip.MustParseAddr(a)
	}
	return addrs, nil
}
