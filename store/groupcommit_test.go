package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
)

// recordingWrite is a committer's write that records its batches, and holds the first until release is closed.
type recordingWrite struct {
	mu      sync.Mutex
	batches [][]*Change
	started chan struct{}
	release chan struct{}
}

func newRecordingWrite() *recordingWrite {
	return &recordingWrite{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (r *recordingWrite) write(_ context.Context, changes []*Change) []error {
	r.mu.Lock()
	first := len(r.batches) == 0
	r.batches = append(r.batches, changes)
	r.mu.Unlock()
	r.started <- struct{}{}
	if first {
		<-r.release
	}
	return make([]error, len(changes))
}

func (r *recordingWrite) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	sizes := make([]int, len(r.batches))
	for i, b := range r.batches {
		sizes[i] = len(b)
	}
	return sizes
}

func contactChange(ws, contact string) *Change {
	return &Change{Workspace: ws, Contacts: []*Contact{{UUID: flows.ContactUUID(contact)}}}
}

// commitAll commits each change on a goroutine of its own, once the first of them is being written, and waits for all.
func commitAll(t *testing.T, g *groupCommitter, rec *recordingWrite, first *Change, rest []*Change) {
	var wg sync.WaitGroup
	wg.Go(func() { assert.NoError(t, g.commit(t.Context(), first)) })
	<-rec.started
	for _, c := range rest {
		wg.Go(func() { assert.NoError(t, g.commit(t.Context(), c)) })
	}
	synctest.Wait() // until every one of the rest waits for the committer
	close(rec.release)
	wg.Wait()
}

func TestGroupCommitBatchesWhatWaits(t *testing.T) {
	synctest.Test(t, testGroupCommitBatchesWhatWaits)
}

func testGroupCommitBatchesWhatWaits(t *testing.T) {
	rec := newRecordingWrite()
	g := newGroupCommitter(1, rec.write)
	defer g.close()

	var rest []*Change
	for i := range 10 {
		rest = append(rest, contactChange("acme", fmt.Sprintf("contact-%d", i)))
	}
	commitAll(t, g, rec, contactChange("acme", "first"), rest)

	// the first alone, as it found the committer free; the ten that waited for it in one transaction
	assert.Equal(t, []int{1, 10}, rec.sizes())
}

func TestGroupCommitKeepsOneContactsChangesApart(t *testing.T) {
	synctest.Test(t, testGroupCommitKeepsOneContactsChangesApart)
}

func testGroupCommitKeepsOneContactsChangesApart(t *testing.T) {
	rec := newRecordingWrite()
	g := newGroupCommitter(1, rec.write)
	defer g.close()

	msg := func(ws, uuid string) *Change {
		return &Change{Workspace: ws, Message: &ProcessedMessage{UUID: flows.InputUUID(uuid)}}
	}
	rest := []*Change{
		contactChange("acme", "ana"), contactChange("acme", "ana"), // one contact twice
		contactChange("other", "ana"),        // another workspace's contact of the same UUID
		msg("acme", "m1"), msg("acme", "m1"), // one message twice
	}
	commitAll(t, g, rec, contactChange("acme", "first"), rest)

	sizes := rec.sizes()
	assert.Equal(t, 6, sum(sizes))
	for _, b := range rec.batches {
		keys := map[string]bool{}
		for _, c := range b {
			for _, k := range keysOf(c) {
				assert.False(t, keys[k], "%s twice in one batch", k)
				keys[k] = true
			}
		}
	}
	assert.Greater(t, len(sizes), 2, "the repeated contact and message need a batch more")
}

func sum(ns []int) int {
	total := 0
	for _, n := range ns {
		total += n
	}
	return total
}

func TestGroupCommitClosed(t *testing.T) {
	g := newGroupCommitter(2, func(context.Context, []*Change) []error { return []error{nil} })
	require.NoError(t, g.commit(t.Context(), contactChange("acme", "ana")))
	g.close()
	g.close() // a store closed twice
	assert.ErrorIs(t, g.commit(t.Context(), contactChange("acme", "bob")), errStoreClosed)
}

// TestCommitChangesTogether: changes committed in one batch each come out as they would alone: a message already
// processed refuses its change only, and a change the database refuses fails only itself.
func TestCommitChangesTogether(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		s := st.(*store)
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		done := flows.InputUUID(uuids.NewV4())
		commit(t, s, optOutChange("acme", newContact("whatsapp:5511999990001", consent.OptedOut, optedOutGroup), done))
		before := counts(t, s)

		var changes []*Change
		for i := range 6 {
			ws := []string{"acme", "other"}[i%2]
			changes = append(changes, optOutChange(ws, newContact(fmt.Sprintf("whatsapp:55119999901%02d", i), consent.OptedOut), flows.InputUUID(uuids.NewV4())))
		}
		changes[2].Message.UUID = done // processed already
		changes[4].Webhooks[0].ID = changes[3].Webhooks[0].ID

		errs := s.commitChanges(t.Context(), changes)
		assert.NoError(t, errs[0])
		assert.NoError(t, errs[1])
		assert.ErrorIs(t, errs[2], ErrConflict)
		assert.NoError(t, errs[3])
		require.Error(t, errs[4])
		assert.False(t, errors.Is(errs[4], ErrConflict), "the database refused it: %s", errs[4])
		assert.NoError(t, errs[5])

		after := counts(t, s)
		for _, table := range []string{"processed_messages", "contacts", "sessions", "consent_events", "webhook_events", "outbox"} {
			assert.Equal(t, before[table]+4, after[table], table)
		}
		for _, i := range []int{0, 1, 3, 5} {
			c := changes[i]
			got, err := s.ContactByURN(t.Context(), c.Workspace, c.Contacts[0].URN)
			require.NoError(t, err, i)
			assert.Equal(t, consent.OptedOut, got.OptStatus)
			_, err = s.WaitingSession(t.Context(), c.Workspace, c.Contacts[0].UUID)
			assert.NoError(t, err, i)
			response, err := s.ProcessedMessage(t.Context(), c.Workspace, c.Message.UUID)
			require.NoError(t, err, i)
			assert.JSONEq(t, string(c.Message.Response), string(response))
		}
		_, err := s.ContactByURN(t.Context(), "other", changes[4].Contacts[0].URN)
		assert.ErrorIs(t, err, ErrNotFound)
	})
}

// TestCommitConcurrently: many contacts' changes at once, as a busy service commits them, all land, once each.
func TestCommitConcurrently(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		before := counts(t, s)
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				c := optOutChange("acme", newContact(fmt.Sprintf("whatsapp:551199991%04d", i), consent.OptedOut, optedOutGroup), flows.InputUUID(uuids.NewV4()))
				c.Webhooks[0].Body = json.RawMessage(fmt.Sprintf(`{"n": %d}`, i))
				assert.NoError(t, s.Commit(context.Background(), c))
			})
		}
		wg.Wait()
		after := counts(t, s)
		for _, table := range []string{"processed_messages", "contacts", "contact_groups", "sessions", "consent_events", "webhook_events", "outbox"} {
			assert.Equal(t, before[table]+200, after[table], table)
		}
	})
}
