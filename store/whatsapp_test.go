package store

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// undoVersion4 takes a database at version 4 back to version 3.
var undoVersion4 = []string{
	`DELETE FROM schema_migrations WHERE version >= 4`,
	`DROP INDEX processed_messages_created`,
	`DROP INDEX webhook_events_delivered`,
	`DROP INDEX outbox_done`,
}

// undoVersion3 takes a database at version 4 back to version 2, for tests of what older versions of the schema hold.
var undoVersion3 = append(undoVersion4,
	`DELETE FROM schema_migrations WHERE version >= 3`,
	`DROP TABLE template_changes`,
	`DROP TABLE whatsapp_inbox`,
	`DROP INDEX outbox_queued`,
	`DROP INDEX outbox_wamid`,
	`ALTER TABLE outbox DROP COLUMN status`,
	`ALTER TABLE outbox DROP COLUMN category`,
	`ALTER TABLE outbox DROP COLUMN language`,
	`ALTER TABLE outbox DROP COLUMN components`,
	`ALTER TABLE outbox DROP COLUMN attempts`,
	`ALTER TABLE outbox DROP COLUMN deferrals`,
	`ALTER TABLE outbox DROP COLUMN next_attempt`,
	`ALTER TABLE outbox DROP COLUMN locked_until`,
	`ALTER TABLE outbox DROP COLUMN wamid`,
	`ALTER TABLE outbox DROP COLUMN reason`,
	`ALTER TABLE outbox DROP COLUMN last_error`,
	`ALTER TABLE outbox DROP COLUMN updated_on`,
	`ALTER TABLE workspaces DROP COLUMN whatsapp`,
)

func connect(t *testing.T, s Store, id string) {
	t.Helper()
	ws, err := s.GetWorkspace(t.Context(), id)
	require.NoError(t, err)
	ws.WhatsApp = json.RawMessage(`{"phone_number_id": "106540352242922"}`)
	_, err = s.PutWorkspace(t.Context(), ws, nil, nil)
	require.NoError(t, err)
}

func queue(urn string) *OutgoingMsg {
	return &OutgoingMsg{URN: urns.URN(urn), Text: "hello " + urn, Source: "broadcast", CreatedOn: at(0)}
}

// pluck returns a field of each item.
func pluck[T, V any](items []T, field func(T) V) []V {
	values := make([]V, len(items))
	for i, item := range items {
		values[i] = field(item)
	}
	return values
}

func ids(msgs []*OutgoingMsg) []int64 { return pluck(msgs, func(m *OutgoingMsg) int64 { return m.ID }) }

// Version 3 brings the sender: what was queued before it was never meant for one, and stays unsent.
func TestMigrationLeavesOldOutboxUnsent(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		raw := db.open(t).(*store).db
		for _, stmt := range undoVersion3 {
			_, err := raw.ExecContext(t.Context(), stmt)
			require.NoError(t, err, stmt)
		}
		_, err := raw.ExecContext(t.Context(), `INSERT INTO workspaces (id, name, webhook_url, webhook_secret, token_hash, version, created_on, updated_on)
			VALUES ('acme', 'Acme', '', '', '', 1, 0, 0)`)
		require.NoError(t, err)
		_, err = raw.ExecContext(t.Context(), `INSERT INTO outbox (workspace, contact_uuid, urn, channel_uuid, text, template, source, broadcast_id, created_on)
			VALUES ('acme', '', 'whatsapp:5511987650001', '', 'hi', '', 'reply', '', 0)`)
		require.NoError(t, err)

		s := db.open(t)
		msgs, err := s.Outbox(t.Context(), "acme", 0, 10)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		assert.Equal(t, OutboxUnsent, msgs[0].Status)
		ws, err := s.GetWorkspace(t.Context(), "acme")
		require.NoError(t, err)
		assert.Nil(t, ws.WhatsApp)
	})
}

func TestOutboxStatusFollowsTheConnection(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		commit(t, s, &Change{Workspace: "acme", Outbox: []*OutgoingMsg{queue("whatsapp:5511987650001")}})
		connect(t, s, "acme")
		ws, err := s.GetWorkspace(t.Context(), "acme")
		require.NoError(t, err)
		assert.JSONEq(t, `{"phone_number_id": "106540352242922"}`, string(ws.WhatsApp))

		tmpl := queue("whatsapp:5511987650002")
		tmpl.Text, tmpl.Template, tmpl.Category, tmpl.Language = "", "promo", "MARKETING", "pt_BR"
		tmpl.Components = json.RawMessage(`[{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]`)
		commit(t, s, &Change{Workspace: "acme", Outbox: []*OutgoingMsg{tmpl}})

		msgs, err := s.Outbox(t.Context(), "acme", 0, 10)
		require.NoError(t, err)
		require.Len(t, msgs, 2)
		assert.Equal(t, OutboxUnsent, msgs[0].Status, "queued before the workspace was connected")
		assert.Equal(t, OutboxQueued, msgs[1].Status)
		assert.Equal(t, "promo", msgs[1].Template)
		assert.Equal(t, "MARKETING", msgs[1].Category)
		assert.Equal(t, "pt_BR", msgs[1].Language)
		assert.JSONEq(t, string(tmpl.Components), string(msgs[1].Components))

		wss, err := s.OutboxWorkspaces(t.Context(), at(1))
		require.NoError(t, err)
		assert.Equal(t, []string{"acme"}, wss)
	})
}

func TestClaimOutbox(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		connect(t, s, "acme")
		connect(t, s, "other")
		var msgs []*OutgoingMsg
		for i := range 5 {
			msgs = append(msgs, queue(fmt.Sprintf("whatsapp:551198765000%d", i)))
		}
		commit(t, s, &Change{Workspace: "acme", Outbox: msgs})
		commit(t, s, &Change{Workspace: "other", Outbox: []*OutgoingMsg{queue("whatsapp:5511987650009")}})
		lease := time.Hour

		first, err := s.ClaimOutbox(t.Context(), "acme", at(1), lease, 2)
		require.NoError(t, err)
		require.Len(t, first, 2)
		assert.Equal(t, 1, first[0].Attempts)
		assert.Equal(t, "acme", first[0].Workspace)
		rest, err := s.ClaimOutbox(t.Context(), "acme", at(1), lease, 10)
		require.NoError(t, err)
		require.Len(t, rest, 3, "none that is leased")
		assert.Less(t, first[1].ID, rest[0].ID, "oldest first")
		none, err := s.ClaimOutbox(t.Context(), "acme", at(1), lease, 10)
		require.NoError(t, err)
		assert.Empty(t, none)
		wss, err := s.OutboxWorkspaces(t.Context(), at(1))
		require.NoError(t, err)
		assert.Equal(t, []string{"other"}, wss, "acme's messages are all leased")

		// accepted: no longer queued; queued again for later: not due until then; released: due at once
		ok, err := s.UpdateOutgoing(t.Context(), &OutgoingUpdate{ID: first[0].ID, From: []OutboxStatus{OutboxQueued}, Status: OutboxAccepted, WAMID: "wamid.1", At: at(1)})
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = s.UpdateOutgoing(t.Context(), &OutgoingUpdate{ID: first[1].ID, From: []OutboxStatus{OutboxQueued}, Status: OutboxQueued, Error: "HTTP 503", NextAttempt: at(5), At: at(1)})
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, s.ReleaseOutbox(t.Context(), ids(rest[:1])))

		again, err := s.ClaimOutbox(t.Context(), "acme", at(2), lease, 10)
		require.NoError(t, err)
		assert.Equal(t, ids(rest[:1]), ids(again))
		assert.Equal(t, 2, again[0].Attempts)
		again, err = s.ClaimOutbox(t.Context(), "acme", at(5), lease, 10)
		require.NoError(t, err)
		assert.Equal(t, ids(first[1:2]), ids(again))
		assert.Equal(t, "HTTP 503", again[0].LastError)

		// a lease that ran out is claimed again
		again, err = s.ClaimOutbox(t.Context(), "acme", at(62), lease, 10)
		require.NoError(t, err)
		assert.Equal(t, ids(rest[1:]), ids(again))
	})
}

// A status never moves a message back, and one about a wamid the message no longer has changes nothing.
func TestUpdateOutgoing(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		connect(t, s, "acme")
		commit(t, s, &Change{Workspace: "acme", Outbox: []*OutgoingMsg{queue("whatsapp:5511987650001")}})
		claimed, err := s.ClaimOutbox(t.Context(), "acme", at(1), time.Minute, 1)
		require.NoError(t, err)
		id := claimed[0].ID
		update := func(u OutgoingUpdate) bool {
			u.ID, u.At = id, at(2)
			ok, err := s.UpdateOutgoing(t.Context(), &u)
			require.NoError(t, err)
			return ok
		}

		// Meta's sent status arrives before the sender recorded the answer; the sender then doesn't move it back
		assert.True(t, update(OutgoingUpdate{From: []OutboxStatus{OutboxQueued, OutboxAccepted}, Status: OutboxSent, WAMID: "wamid.1"}))
		assert.False(t, update(OutgoingUpdate{From: []OutboxStatus{OutboxQueued}, Status: OutboxAccepted, WAMID: "wamid.1"}))
		assert.True(t, update(OutgoingUpdate{From: []OutboxStatus{OutboxQueued, OutboxAccepted, OutboxSent}, Status: OutboxDelivered}))

		byWAMID, err := s.FindOutgoing(t.Context(), "acme", "wamid.1", 0)
		require.NoError(t, err)
		assert.Equal(t, OutboxDelivered, byWAMID.Status)
		assert.Equal(t, "wamid.1", byWAMID.WAMID, "kept by an update without one")
		byID, err := s.FindOutgoing(t.Context(), "acme", "wamid.unknown", id)
		require.NoError(t, err)
		assert.Equal(t, id, byID.ID)
		_, err = s.FindOutgoing(t.Context(), "other", "wamid.1", id)
		assert.ErrorIs(t, err, ErrNotFound)

		// put off by the marketing limit, then sent again with a new wamid: a late report of the old one is stale
		assert.True(t, update(OutgoingUpdate{From: []OutboxStatus{OutboxDelivered}, WAMIDWas: "wamid.1", Status: OutboxQueued, Deferred: true, NextAttempt: at(60)}))
		assert.True(t, update(OutgoingUpdate{From: []OutboxStatus{OutboxQueued}, Status: OutboxAccepted, WAMID: "wamid.2"}))
		assert.False(t, update(OutgoingUpdate{From: []OutboxStatus{OutboxAccepted}, WAMIDWas: "wamid.1", Status: OutboxFailed, Reason: "undeliverable"}))
		m, err := s.FindOutgoing(t.Context(), "acme", "wamid.2", 0)
		require.NoError(t, err)
		assert.Equal(t, OutboxAccepted, m.Status)
		assert.Equal(t, 1, m.Deferrals)
		assert.Equal(t, at(2), m.UpdatedOn)
	})
}

// Two senders claiming one workspace's queue at once never get the same message; on PostgreSQL they are two stores.
func TestClaimOutboxConcurrently(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		stores := []Store{db.open(t), db.open(t)}
		createWorkspace(t, stores[0], "acme")
		connect(t, stores[0], "acme")
		var msgs []*OutgoingMsg
		for i := range 200 {
			msgs = append(msgs, queue(fmt.Sprintf("whatsapp:55119876%05d", i)))
		}
		commit(t, stores[0], &Change{Workspace: "acme", Outbox: msgs})

		var mu sync.Mutex
		claims := map[int64]int{}
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for {
					claimed, err := stores[w%2].ClaimOutbox(t.Context(), "acme", at(1), time.Hour, 7)
					if !assert.NoError(t, err) || len(claimed) == 0 {
						return
					}
					mu.Lock()
					for _, m := range claimed {
						claims[m.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		assert.Len(t, claims, len(msgs))
		for id, n := range claims {
			assert.Equal(t, 1, n, "message %d claimed %d times", id, n)
		}
	})
}

func inboxItem(kind, key, contact string) *InboxItem {
	return &InboxItem{Kind: kind, Key: key, Contact: contact, Payload: json.RawMessage(fmt.Sprintf(`{"key": %q}`, key)), Received: at(0)}
}

func inboxKeys(items []*InboxItem) []string {
	return pluck(items, func(it *InboxItem) string { return it.Key })
}

// What Meta delivers again is kept once, and one user's events are acted on in the order they came.
func TestInbox(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		a1, b1, a2 := inboxItem("message", "wamid.a1", "5511987650001"), inboxItem("message", "wamid.b1", "5511987650002"), inboxItem("status", "wamid.x:read", "5511987650001")
		n, err := s.ReceiveWhatsApp(t.Context(), "acme", []*InboxItem{a1, b1, a2}, nil)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		n, err = s.ReceiveWhatsApp(t.Context(), "acme", []*InboxItem{inboxItem("message", "wamid.a1", "5511987650001")}, nil)
		require.NoError(t, err)
		assert.Zero(t, n, "a redelivery")
		n, err = s.ReceiveWhatsApp(t.Context(), "other", []*InboxItem{inboxItem("message", "wamid.a1", "5511987650001")}, nil)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "another workspace's")

		claimed, err := s.ClaimInbox(t.Context(), at(1), time.Minute, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"wamid.a1", "wamid.b1", "wamid.a1"}, inboxKeys(claimed), "a2 waits for a1")
		assert.JSONEq(t, `{"key": "wamid.a1"}`, string(claimed[0].Payload))
		assert.Equal(t, "acme", claimed[0].Workspace)
		assert.Equal(t, "other", claimed[2].Workspace)

		require.NoError(t, s.FinishInbox(t.Context(), claimed[0].ID, at(1), "", time.Time{}))
		require.NoError(t, s.FinishInbox(t.Context(), claimed[1].ID, at(1), "the database is unavailable", at(10)))
		require.NoError(t, s.FinishInbox(t.Context(), claimed[2].ID, at(1), "malformed", time.Time{}))
		claimed, err = s.ClaimInbox(t.Context(), at(2), time.Minute, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"wamid.x:read"}, inboxKeys(claimed))
		require.NoError(t, s.FinishInbox(t.Context(), claimed[0].ID, at(2), "", time.Time{}))
		claimed, err = s.ClaimInbox(t.Context(), at(10), time.Minute, 10)
		require.NoError(t, err)
		assert.Equal(t, []string{"wamid.b1"}, inboxKeys(claimed))
		assert.Equal(t, 1, claimed[0].Attempts)

		pruned, err := s.Prune(t.Context(), Retention{Inbox: at(1)})
		require.NoError(t, err)
		assert.Equal(t, int64(3), pruned["whatsapp_inbox"], "all but the pending one")
		n, err = s.ReceiveWhatsApp(t.Context(), "acme", []*InboxItem{inboxItem("message", "wamid.a1", "5511987650001")}, nil)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "forgotten once pruned")
	})
}

func TestTemplateChanges(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ws := createWorkspace(t, s, "acme")
		completed := &TemplateChange{Key: "1:MARKETING:100", TemplateID: "1", Template: "promo", Language: "pt_BR",
			PreviousCategory: "UTILITY", Category: "MARKETING", EffectiveOn: at(1), ReceivedOn: at(1)}
		announced := &TemplateChange{Key: "2:MARKETING:200", TemplateID: "2", Template: "welcome", Language: "en_US",
			PreviousCategory: "UTILITY", Category: "MARKETING", Announced: true, EffectiveOn: at(30), ReceivedOn: at(1)}
		n, err := s.ReceiveWhatsApp(t.Context(), "acme", nil, []*TemplateChange{completed, announced})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		n, err = s.ReceiveWhatsApp(t.Context(), "acme", nil, []*TemplateChange{completed})
		require.NoError(t, err)
		assert.Zero(t, n, "a redelivery")

		due, err := s.DueTemplateChanges(t.Context(), at(2), 10)
		require.NoError(t, err)
		require.Len(t, due, 1)
		assert.Equal(t, "promo", due[0].Template)
		edit := func(config json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"templates": {"promo": "MARKETING"}}`), nil
		}
		applied, err := s.ApplyTemplateChange(t.Context(), due[0], at(2), edit)
		require.NoError(t, err)
		assert.True(t, applied)
		applied, err = s.ApplyTemplateChange(t.Context(), due[0], at(3), edit)
		require.NoError(t, err)
		assert.False(t, applied, "once")

		after, err := s.GetWorkspace(t.Context(), "acme")
		require.NoError(t, err)
		assert.JSONEq(t, `{"templates": {"promo": "MARKETING"}}`, string(after.Config))
		assert.Greater(t, after.Version, ws.Version, "instances compile it again")

		due, err = s.DueTemplateChanges(t.Context(), at(29), 10)
		require.NoError(t, err)
		assert.Empty(t, due, "the announced change isn't due yet")
		due, err = s.DueTemplateChanges(t.Context(), at(30), 10)
		require.NoError(t, err)
		assert.Len(t, due, 1)

		log, err := s.TemplateChanges(t.Context(), "acme", 0, 10)
		require.NoError(t, err)
		require.Len(t, log, 2)
		assert.Equal(t, at(2), log[0].AppliedOn)
		assert.True(t, log[1].Announced)
		assert.True(t, log[1].AppliedOn.IsZero())
		log, err = s.TemplateChanges(t.Context(), "acme", log[0].ID, 10)
		require.NoError(t, err)
		assert.Len(t, log, 1)
	})
}

// Deleting a workspace deletes what Meta sent it too, and nothing of another's.
func TestDeleteWorkspaceWithWhatsApp(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		for _, id := range []string{"acme", "globex"} {
			createWorkspace(t, s, id)
			connect(t, s, id)
			_, err := s.ReceiveWhatsApp(t.Context(), id, []*InboxItem{inboxItem("message", "wamid.1", "5511987650001")},
				[]*TemplateChange{{Key: "1", TemplateID: "1", Template: "promo", Category: "MARKETING", EffectiveOn: at(0), ReceivedOn: at(0)}})
			require.NoError(t, err)
		}
		require.NoError(t, s.DeleteWorkspace(t.Context(), "acme"))
		db := s.(*store).db
		for _, table := range []string{"whatsapp_inbox", "template_changes"} {
			for ws, want := range map[string]int{"acme": 0, "globex": 1} {
				var n int
				require.NoError(t, db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table+" WHERE workspace = $1", ws).Scan(&n))
				assert.Equal(t, want, n, "%s of %s", table, ws)
			}
		}
	})
}
