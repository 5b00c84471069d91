package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
)

func newWebhook(contact flows.ContactUUID, createdOn time.Time) *WebhookEvent {
	id := string(uuids.NewV4())
	return &WebhookEvent{
		ID:          id,
		ContactUUID: contact,
		// as signed: spacing and key order that a JSON column wouldn't keep
		Body:      json.RawMessage(fmt.Sprintf(`{"type":"opted_out",  "id": %q, "data":{"z": 1, "a": [ 2.50 ]}}`, id)),
		CreatedOn: createdOn,
	}
}

func claimedIDs(events []*WebhookEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

func TestWebhookEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		ana, bob := flows.ContactUUID(uuids.NewV4()), flows.ContactUUID(uuids.NewV4())

		oldest, err := s.OldestPendingWebhook(t.Context())
		require.NoError(t, err)
		assert.True(t, oldest.IsZero())

		e1, e2, e3 := newWebhook(ana, at(1)), newWebhook(bob, at(2)), newWebhook(ana, at(3))
		e3.Workspace = "other" // a change writes in its own workspace
		commit(t, s, &Change{Workspace: "acme", Webhooks: []*WebhookEvent{e1, e2, e3}})
		e4 := newWebhook(bob, time.Time{}) // created now, unless it says when
		commit(t, s, &Change{Workspace: "other", Webhooks: []*WebhookEvent{e4}})

		all, err := s.WebhookEvents(t.Context(), "acme", "", 0, 10)
		require.NoError(t, err)
		require.Len(t, all, 3)
		for i, e := range []*WebhookEvent{e1, e2, e3} {
			assert.Positive(t, all[i].Seq)
			if i > 0 {
				assert.Greater(t, all[i].Seq, all[i-1].Seq)
			}
			assert.Equal(t, &WebhookEvent{
				ID: e.ID, Seq: all[i].Seq, Workspace: "acme", ContactUUID: e.ContactUUID, Body: e.Body, Status: WebhookPending,
				NextAttempt: e.CreatedOn, CreatedOn: e.CreatedOn,
			}, all[i])
			assert.Equal(t, string(e.Body), string(all[i].Body)) // byte for byte
		}

		page, err := s.WebhookEvents(t.Context(), "acme", "", all[0].Seq, 1)
		require.NoError(t, err)
		assert.Equal(t, all[1:2], page)

		ofOther, err := s.WebhookEvents(t.Context(), "other", "", 0, 10)
		require.NoError(t, err)
		require.Len(t, ofOther, 1)
		assert.WithinDuration(t, time.Now(), ofOther[0].CreatedOn, time.Minute)
		assert.Equal(t, ofOther[0].CreatedOn, ofOther[0].NextAttempt)

		oldest, err = s.OldestPendingWebhook(t.Context())
		require.NoError(t, err)
		assert.Equal(t, at(1), oldest)

		// deliver one, and fail one after two attempts
		require.NoError(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: e1.ID, Number: 1, StartedOn: at(4), Duration: 250 * time.Millisecond, StatusCode: 200}, WebhookDelivered, time.Time{}))
		require.NoError(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: e2.ID, Number: 1, StartedOn: at(4), Duration: 30 * time.Second, Error: "timed out"}, WebhookPending, at(9)))
		require.NoError(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: e2.ID, Number: 2, StartedOn: at(9), Duration: 1500 * time.Microsecond, StatusCode: 500, Error: "500 Internal Server Error"}, WebhookFailed, time.Time{}))

		delivered, err := s.WebhookEvents(t.Context(), "acme", WebhookDelivered, 0, 10)
		require.NoError(t, err)
		require.Len(t, delivered, 1)
		assert.Equal(t, e1.ID, delivered[0].ID)
		assert.Equal(t, at(4).Add(250*time.Millisecond), delivered[0].DeliveredOn)
		assert.Equal(t, 1, delivered[0].Attempts)
		assert.Empty(t, delivered[0].LastError)

		failed, err := s.WebhookEvents(t.Context(), "acme", WebhookFailed, 0, 10)
		require.NoError(t, err)
		require.Len(t, failed, 1)
		assert.Equal(t, e2.ID, failed[0].ID)
		assert.Equal(t, 2, failed[0].Attempts)
		assert.Equal(t, at(9), failed[0].NextAttempt)
		assert.True(t, failed[0].DeliveredOn.IsZero())
		assert.Equal(t, "500 Internal Server Error", failed[0].LastError)

		pending, err := s.WebhookEvents(t.Context(), "acme", WebhookPending, 0, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{e3.ID}, claimedIDs(pending))
		pending, err = s.WebhookEvents(t.Context(), "acme", WebhookPending, pending[0].Seq, 10)
		require.NoError(t, err)
		assert.Empty(t, pending)

		oldest, err = s.OldestPendingWebhook(t.Context())
		require.NoError(t, err)
		assert.Equal(t, at(3), oldest)

		event, attempts, err := s.WebhookEvent(t.Context(), "acme", e2.ID)
		require.NoError(t, err)
		assert.Equal(t, failed[0], event)
		assert.Equal(t, []*WebhookAttempt{
			{EventID: e2.ID, Number: 1, StartedOn: at(4), Duration: 30 * time.Second, Error: "timed out"},
			{EventID: e2.ID, Number: 2, StartedOn: at(9), Duration: 1500 * time.Microsecond, StatusCode: 500, Error: "500 Internal Server Error"},
		}, attempts)

		event, attempts, err = s.WebhookEvent(t.Context(), "acme", e3.ID)
		require.NoError(t, err)
		assert.Equal(t, string(e3.Body), string(event.Body))
		assert.Empty(t, attempts)

		_, _, err = s.WebhookEvent(t.Context(), "other", e1.ID)
		assert.ErrorIs(t, err, ErrNotFound)
		_, _, err = s.WebhookEvent(t.Context(), "acme", "00000000-0000-4000-8000-000000000000")
		assert.ErrorIs(t, err, ErrNotFound)

		err = recordOne(t.Context(), s, &WebhookAttempt{EventID: "00000000-0000-4000-8000-000000000000", Number: 1, StartedOn: at(4)}, WebhookDelivered, time.Time{})
		assert.ErrorIs(t, err, ErrNotFound)
		assert.Error(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: e3.ID, Number: 1, StartedOn: at(4)}, "lost", time.Time{}))
		assert.Error(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: e3.ID, Number: 1, StartedOn: at(4)}, WebhookPending, time.Time{}))
		_, attempts, err = s.WebhookEvent(t.Context(), "acme", e3.ID)
		require.NoError(t, err)
		assert.Empty(t, attempts)
	})
}

func TestClaimWebhooks(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		ana, bob, cid := flows.ContactUUID(uuids.NewV4()), flows.ContactUUID(uuids.NewV4()), flows.ContactUUID(uuids.NewV4())
		lease := 5 * time.Minute

		a1, b1, a2, c1 := newWebhook(ana, at(0)), newWebhook(bob, at(1)), newWebhook(ana, at(2)), newWebhook(cid, at(3))
		c1.NextAttempt = at(30) // not due yet
		commit(t, s, &Change{Workspace: "acme", Webhooks: []*WebhookEvent{a1, b1, a2, c1}})
		// the same contact UUID in another workspace is another contact
		o1 := newWebhook(ana, at(4))
		commit(t, s, &Change{Workspace: "other", Webhooks: []*WebhookEvent{o1}})

		claimed, err := s.ClaimWebhooks(t.Context(), at(10), lease, 1, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{a1.ID}, claimedIDs(claimed))
		assert.Equal(t, string(a1.Body), string(claimed[0].Body))
		assert.Equal(t, "acme", claimed[0].Workspace)

		// only the oldest pending event of each contact, and none that is leased
		claimed, err = s.ClaimWebhooks(t.Context(), at(10), lease, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{b1.ID, o1.ID}, claimedIDs(claimed))
		claimed, err = s.ClaimWebhooks(t.Context(), at(14), lease, 10, nil)
		require.NoError(t, err)
		assert.Empty(t, claimed)

		// a lease that ran out can be claimed again
		claimed, err = s.ClaimWebhooks(t.Context(), at(16), lease, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{a1.ID, b1.ID, o1.ID}, claimedIDs(claimed))

		// retrying releases the lease, but the event isn't due until its next attempt, and the contact's next event waits
		// for it
		require.NoError(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: a1.ID, Number: 1, StartedOn: at(16), Error: "connection refused"}, WebhookPending, at(40)))
		require.NoError(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: b1.ID, Number: 1, StartedOn: at(16), StatusCode: 503}, WebhookPending, at(100)))
		require.NoError(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: o1.ID, Number: 1, StartedOn: at(16), StatusCode: 200}, WebhookDelivered, time.Time{}))
		claimed, err = s.ClaimWebhooks(t.Context(), at(39), lease, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{c1.ID}, claimedIDs(claimed))
		claimed, err = s.ClaimWebhooks(t.Context(), at(40), lease, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{a1.ID}, claimedIDs(claimed))
		assert.Equal(t, 1, claimed[0].Attempts)
		assert.Equal(t, "connection refused", claimed[0].LastError)

		// delivering it lets the next one go
		require.NoError(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: a1.ID, Number: 2, StartedOn: at(40), StatusCode: 204}, WebhookDelivered, time.Time{}))
		claimed, err = s.ClaimWebhooks(t.Context(), at(41), lease, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{a2.ID}, claimedIDs(claimed))

		// and so does failing it for good
		b2 := newWebhook(bob, at(42))
		commit(t, s, &Change{Workspace: "acme", Webhooks: []*WebhookEvent{b2}})
		claimed, err = s.ClaimWebhooks(t.Context(), at(43), lease, 10, nil)
		require.NoError(t, err)
		assert.Empty(t, claimed) // b1 isn't due, and b2 waits for it
		require.NoError(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: b1.ID, Number: 2, StartedOn: at(43), StatusCode: 410}, WebhookFailed, time.Time{}))
		claimed, err = s.ClaimWebhooks(t.Context(), at(43), lease, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{b2.ID}, claimedIDs(claimed))
	})
}

// Workers claiming at once never get the same event, and never an event of a contact before the contact's older
// events were delivered; on PostgreSQL they are in two processes, as two stores.
func TestClaimWebhooksConcurrently(t *testing.T) {
	// few events, as each claim and record is a transaction, which on a busy disk can take a second
	const contacts, perContact, workers = 8, 6, 6

	eachDB(t, func(t *testing.T, db *testDB) {
		stores := []Store{db.open(t), db.open(t)}
		createWorkspace(t, stores[0], "acme")

		// events of each contact, interleaved with the others'
		var events []*WebhookEvent
		order := map[string]int{} // an event's place among its contact's
		for i := range perContact {
			for c := range contacts {
				e := newWebhook(flows.ContactUUID(fmt.Sprintf("00000000-0000-4000-8000-%012d", c)), at(i))
				order[e.ID] = i
				events = append(events, e)
			}
		}
		commit(t, stores[0], &Change{Workspace: "acme", Webhooks: events})

		var mu sync.Mutex
		claims := map[string]int{}
		delivered := map[flows.ContactUUID]int{} // how many of each contact's events were delivered
		var remaining atomic.Int64
		remaining.Store(int64(len(events)))

		var wg sync.WaitGroup
		deadline := time.Now().Add(time.Minute)
		for w := range workers {
			s := stores[w%2]
			wg.Go(func() {
				for remaining.Load() > 0 && time.Now().Before(deadline) {
					claimed, err := s.ClaimWebhooks(t.Context(), time.Now(), time.Hour, 3, nil)
					if !assert.NoError(t, err) {
						return
					}
					for _, e := range claimed {
						mu.Lock()
						claims[e.ID]++
						assert.Equal(t, order[e.ID], delivered[e.ContactUUID], "event %d of a contact claimed after %d delivered", order[e.ID], delivered[e.ContactUUID])
						delivered[e.ContactUUID]++ // before it's recorded, after which the next can be claimed
						mu.Unlock()

						err := recordOne(t.Context(), s, &WebhookAttempt{EventID: e.ID, Number: 1, StartedOn: time.Now(), StatusCode: 200}, WebhookDelivered, time.Time{})
						assert.NoError(t, err)
						remaining.Add(-1)
					}
				}
			})
		}
		wg.Wait()

		assert.Zero(t, remaining.Load())
		assert.Len(t, claims, len(events))
		for id, n := range claims {
			assert.Equal(t, 1, n, "event %s claimed %d times", id, n)
		}
	})
}

// recordOne records one attempt, as a transaction of its own.
func recordOne(ctx context.Context, s Store, a *WebhookAttempt, outcome WebhookStatus, next time.Time) error {
	return s.RecordAttempts(ctx, []*AttemptRecord{{Attempt: a, Outcome: outcome, Next: next}})
}

// A claim leases at most what each workspace has room for, and takes the others' events past those it leaves.
func TestClaimWebhooksWithRoom(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		for _, id := range []string{"acme", "globex"} {
			createWorkspace(t, s, id)
		}
		var events []*WebhookEvent
		for i := range 6 {
			ws := "acme"
			if i >= 4 {
				ws = "globex"
			}
			e := &WebhookEvent{ID: string(uuids.NewV4()), ContactUUID: flows.ContactUUID(fmt.Sprintf("c%d", i)), Body: json.RawMessage(`{}`), CreatedOn: at(i)}
			commit(t, s, &Change{Workspace: ws, Webhooks: []*WebhookEvent{e}})
			events = append(events, e)
		}
		claimed, err := s.ClaimWebhooks(t.Context(), at(10), time.Minute, 3, map[string]int{"acme": 1, "globex": 5})
		require.NoError(t, err)
		var got []string
		for _, e := range claimed {
			got = append(got, e.ID)
		}
		assert.Equal(t, []string{events[0].ID, events[4].ID, events[5].ID}, got, "acme's first, then globex's past acme's others")

		// and a round of attempts is recorded at once
		require.NoError(t, s.RecordAttempts(t.Context(), []*AttemptRecord{
			{Attempt: &WebhookAttempt{EventID: events[0].ID, Number: 1, StartedOn: at(10), StatusCode: 200}, Outcome: WebhookDelivered},
			{Attempt: &WebhookAttempt{EventID: events[4].ID, Number: 1, StartedOn: at(10), StatusCode: 500, Error: "500"}, Outcome: WebhookPending, Next: at(20)},
		}))
		e0, attempts, err := s.WebhookEvent(t.Context(), "acme", events[0].ID)
		require.NoError(t, err)
		assert.Equal(t, WebhookDelivered, e0.Status)
		assert.Len(t, attempts, 1)
		e4, _, err := s.WebhookEvent(t.Context(), "globex", events[4].ID)
		require.NoError(t, err)
		assert.Equal(t, at(20), e4.NextAttempt)

		// one that can't be recorded makes the whole round fail, recording nothing
		err = s.RecordAttempts(t.Context(), []*AttemptRecord{
			{Attempt: &WebhookAttempt{EventID: events[5].ID, Number: 1, StartedOn: at(10), StatusCode: 200}, Outcome: WebhookDelivered},
			{Attempt: &WebhookAttempt{EventID: "00000000-0000-4000-8000-000000000000", Number: 1, StartedOn: at(10)}, Outcome: WebhookDelivered},
		})
		assert.ErrorIs(t, err, ErrNotFound)
		e5, _, err := s.WebhookEvent(t.Context(), "globex", events[5].ID)
		require.NoError(t, err)
		assert.Equal(t, WebhookPending, e5.Status)
	})
}

// A workspace with a backlog and no room left doesn't hide the others' events from a claim, however many it has
// queued ahead of them: the query leaves out those without room.
func TestClaimWebhooksPastBacklog(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		for _, id := range []string{"hung", "fine", "other"} {
			createWorkspace(t, s, id)
		}
		var backlog []*WebhookEvent
		for i := range 100 {
			backlog = append(backlog, newWebhook(flows.ContactUUID(uuids.NewV4()), at(0).Add(time.Duration(i)*time.Millisecond)))
		}
		commit(t, s, &Change{Workspace: "hung", Webhooks: backlog})
		fine, other := newWebhook(flows.ContactUUID(uuids.NewV4()), at(1)), newWebhook(flows.ContactUUID(uuids.NewV4()), at(2))
		commit(t, s, &Change{Workspace: "fine", Webhooks: []*WebhookEvent{fine}})
		commit(t, s, &Change{Workspace: "other", Webhooks: []*WebhookEvent{other}})

		claimed, err := s.ClaimWebhooks(t.Context(), at(10), time.Minute, 1, map[string]int{"hung": 0})
		require.NoError(t, err)
		assert.Equal(t, []string{fine.ID}, claimedIDs(claimed))
		claimed, err = s.ClaimWebhooks(t.Context(), at(10), time.Minute, 5, map[string]int{"hung": 0, "fine": 3})
		require.NoError(t, err)
		assert.Equal(t, []string{other.ID}, claimedIDs(claimed))
	})
}

// A claim reads pending events a page at a time: a contact whose first event is on one page has its later ones
// wait on the next, and the events a claim can't take, however many pages they fill, don't hide those past them.
func TestClaimWebhooksAcrossPages(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		busy := flows.ContactUUID(uuids.NewV4())
		first := newWebhook(busy, at(0))
		first.NextAttempt = at(30) // retrying: the contact's others wait for it
		events := []*WebhookEvent{first}
		for i := range 2*claimPage + 10 {
			events = append(events, newWebhook(busy, at(0).Add(time.Duration(i+1)*time.Millisecond)))
		}
		quiet := []*WebhookEvent{newWebhook(flows.ContactUUID(uuids.NewV4()), at(1)), newWebhook(flows.ContactUUID(uuids.NewV4()), at(1))}
		later := newWebhook(busy, at(2))
		commit(t, s, &Change{Workspace: "acme", Webhooks: append(append(events, quiet...), later)})

		claimed, err := s.ClaimWebhooks(t.Context(), at(10), time.Hour, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, claimedIDs(quiet), claimedIDs(claimed))

		// once it is due, only the contact's first is claimed, then each next one as the one before is delivered
		claimed, err = s.ClaimWebhooks(t.Context(), at(30), time.Minute, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{first.ID}, claimedIDs(claimed))
		require.NoError(t, recordOne(t.Context(), s, &WebhookAttempt{EventID: first.ID, Number: 2, StartedOn: at(30), StatusCode: 200}, WebhookDelivered, time.Time{}))
		claimed, err = s.ClaimWebhooks(t.Context(), at(31), time.Minute, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{events[1].ID}, claimedIDs(claimed))
	})
}

// Releasing a claim's leases makes its events claimable at once, but not an event that another claim took since.
func TestReleaseWebhooks(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		e1, e2 := newWebhook(flows.ContactUUID(uuids.NewV4()), at(0)), newWebhook(flows.ContactUUID(uuids.NewV4()), at(0))
		commit(t, s, &Change{Workspace: "acme", Webhooks: []*WebhookEvent{e1, e2}})

		claimed, err := s.ClaimWebhooks(t.Context(), at(1), time.Minute, 10, nil)
		require.NoError(t, err)
		require.Len(t, claimed, 2)
		// e2's lease ran out, and a later claim took it
		retaken, err := s.ClaimWebhooks(t.Context(), at(1).Add(time.Minute+time.Second), time.Minute, 1, nil)
		require.NoError(t, err)
		require.Equal(t, []string{e1.ID}, claimedIDs(retaken))

		require.NoError(t, s.ReleaseWebhooks(t.Context(), []int64{claimed[0].Seq, claimed[1].Seq}, at(1).Add(time.Minute)))
		again, err := s.ClaimWebhooks(t.Context(), at(1).Add(time.Minute+2*time.Second), time.Minute, 10, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{e2.ID}, claimedIDs(again), "e1 is still the later claim's")
	})
}

// A claim costs the events it reads, not the backlog: compare ns/op across the backlogs, of which every event is
// due and of a contact of its own. It leases a worker's batch and releases it, so that each claim finds the same.
func BenchmarkClaimWebhooks(b *testing.B) {
	for name, dsn := range map[string]func(testing.TB) string{
		"sqlite":   func(b testing.TB) string { return b.TempDir() },
		"postgres": testenv.PostgresSchema,
	} {
		for _, backlog := range []int{1_000, 100_000} {
			b.Run(fmt.Sprintf("%s/backlog=%d", name, backlog), func(b *testing.B) {
				s, err := Open(b.Context(), dsn(b))
				require.NoError(b, err)
				defer s.Close()
				_, err = s.PutWorkspace(b.Context(), &Workspace{ID: "acme", Name: "acme", Config: json.RawMessage(`{}`)}, nil, nil)
				require.NoError(b, err)
				events := make([]*WebhookEvent, backlog)
				for i := range events {
					events[i] = newWebhook(flows.ContactUUID(uuids.NewV4()), at(0))
				}
				require.NoError(b, s.Commit(b.Context(), &Change{Workspace: "acme", Webhooks: events}))

				for b.Loop() {
					now := time.Now()
					claimed, err := s.ClaimWebhooks(b.Context(), now, time.Minute, 64, nil)
					require.NoError(b, err)
					require.Len(b, claimed, 64)
					seqs := make([]int64, len(claimed))
					for i, e := range claimed {
						seqs[i] = e.Seq
					}
					require.NoError(b, s.ReleaseWebhooks(b.Context(), seqs, time.UnixMicro(now.Add(time.Minute).UnixMicro())))
				}
			})
		}
	}
}
