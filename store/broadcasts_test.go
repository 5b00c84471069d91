package store

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBroadcasts(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		const id = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"

		b := &Broadcast{ID: id, Workspace: "acme", Request: json.RawMessage(`{"text": "Black Friday!", "group": "Members"}`), CreatedOn: at(0)}
		require.NoError(t, s.CreateBroadcast(t.Context(), b))
		assert.ErrorIs(t, s.CreateBroadcast(t.Context(), b), ErrConflict)
		require.NoError(t, s.CreateBroadcast(t.Context(), &Broadcast{ID: "7a2b3c4d-5e6f-4071-8b8c-9d0e1f2a3b4c", Workspace: "other", DryRun: true, CreatedOn: at(0)}))

		got, err := s.GetBroadcast(t.Context(), "acme", id)
		require.NoError(t, err)
		assert.JSONEq(t, string(b.Request), string(got.Request))
		assert.Equal(t, &Broadcast{ID: id, Workspace: "acme", Request: got.Request, CreatedOn: at(0), Skipped: map[string]int{}}, got)

		// a first batch
		batch1 := []*BroadcastRecipient{
			{URN: "whatsapp:5511999990001", Decision: "send", ContactUUID: "0a1b2c3d-0000-4000-8000-000000000001"},
			{URN: "whatsapp:5511999990002", Decision: "skip", Reason: "opted_out", ContactUUID: "0a1b2c3d-0000-4000-8000-000000000002"},
			{URN: "whatsapp:5511999990003", Decision: "send"},
		}
		msg := &OutgoingMsg{Channel: "8e2f1c3a-4b5d-4e6f-9a0b-1c2d3e4f5a6b", Text: "Black Friday!", Template: "black_friday", Source: "broadcast",
			BroadcastID: id, CreatedOn: at(1), Category: "MARKETING", Language: "pt_BR", Components: json.RawMessage(`[{"type": "body"}]`)}
		require.NoError(t, s.AddBroadcastBatch(t.Context(), id, batch1, msg))
		assert.Equal(t, []int64{1, 2, 3}, []int64{batch1[0].Seq, batch1[1].Seq, batch1[2].Seq})

		// a second, numbered after it
		batch2 := []*BroadcastRecipient{
			{URN: "whatsapp:5511999990004", Decision: "skip", Reason: "window_closed"},
			{URN: "whatsapp:5511999990005", Decision: "skip", Reason: "opted_out"},
		}
		require.NoError(t, s.AddBroadcastBatch(t.Context(), id, batch2, nil))
		assert.Equal(t, []int64{4, 5}, []int64{batch2[0].Seq, batch2[1].Seq})
		require.NoError(t, s.AddBroadcastBatch(t.Context(), id, nil, nil))

		got, err = s.GetBroadcast(t.Context(), "acme", id)
		require.NoError(t, err)
		assert.Equal(t, 2, got.Sent)
		assert.Equal(t, 5, got.Recipients)
		assert.Equal(t, map[string]int{"opted_out": 2, "window_closed": 1}, got.Skipped)
		assert.True(t, got.FinishedOn.IsZero())

		require.NoError(t, s.FinishBroadcast(t.Context(), id, at(2)))
		got, err = s.GetBroadcast(t.Context(), "acme", id)
		require.NoError(t, err)
		assert.Equal(t, at(2), got.FinishedOn)

		// recipients page in order, without the contacts' UUIDs, which only their messages keep
		var all []*BroadcastRecipient
		for _, r := range append(batch1, batch2...) {
			kept := *r
			kept.ContactUUID = ""
			all = append(all, &kept)
		}
		page, err := s.BroadcastRecipients(t.Context(), id, 0, 10)
		require.NoError(t, err)
		assert.Equal(t, all, page)
		page, err = s.BroadcastRecipients(t.Context(), id, 2, 2)
		require.NoError(t, err)
		assert.Equal(t, all[2:4], page)
		page, err = s.BroadcastRecipients(t.Context(), id, 5, 2)
		require.NoError(t, err)
		assert.Empty(t, page)

		// and the messages are in the broadcast's workspace's outbox
		out, err := s.Outbox(t.Context(), "acme", 0, 10)
		require.NoError(t, err)
		require.Len(t, out, 2)
		for i, r := range []*BroadcastRecipient{batch1[0], batch1[2]} {
			expected := *msg
			expected.ID, expected.Workspace, expected.Status, expected.URN, expected.ContactUUID = out[i].ID, "acme", OutboxUnsent, r.URN, r.ContactUUID
			assert.JSONEq(t, string(expected.Components), string(out[i].Components))
			expected.Components = out[i].Components
			assert.Equal(t, &expected, out[i])
		}
		out, err = s.Outbox(t.Context(), "other", 0, 10)
		require.NoError(t, err)
		assert.Empty(t, out)

		_, err = s.GetBroadcast(t.Context(), "other", id)
		assert.ErrorIs(t, err, ErrNotFound)
		assert.ErrorIs(t, s.AddBroadcastBatch(t.Context(), "nope", batch2, nil), ErrNotFound)
		assert.ErrorIs(t, s.FinishBroadcast(t.Context(), "nope", at(2)), ErrNotFound)
		other, err := s.GetBroadcast(t.Context(), "other", "7a2b3c4d-5e6f-4071-8b8c-9d0e1f2a3b4c")
		require.NoError(t, err)
		assert.True(t, other.DryRun)
		assert.Nil(t, other.Request)
	})
}

// Batches added at once are numbered one after the other, and all their counts add up.
func TestBroadcastBatchesConcurrently(t *testing.T) {
	const batches, size = 8, 25

	eachDB(t, func(t *testing.T, db *testDB) {
		stores := []Store{db.open(t), db.open(t)}
		createWorkspace(t, stores[0], "acme")
		const id = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
		require.NoError(t, stores[0].CreateBroadcast(t.Context(), &Broadcast{ID: id, Workspace: "acme", CreatedOn: at(0)}))

		var wg sync.WaitGroup
		for b := range batches {
			wg.Go(func() {
				batch := make([]*BroadcastRecipient, size)
				for i := range batch {
					batch[i] = &BroadcastRecipient{URN: urns.URN(fmt.Sprintf("whatsapp:55119%04d%04d", b, i)), Decision: "skip", Reason: fmt.Sprintf("reason_%d", i%3)}
				}
				batch[0].Decision, batch[0].Reason = "send", ""
				assert.NoError(t, stores[b%2].AddBroadcastBatch(t.Context(), id, batch, &OutgoingMsg{Text: "hi", Source: "broadcast", BroadcastID: id}))
			})
		}
		wg.Wait()

		got, err := stores[0].GetBroadcast(t.Context(), "acme", id)
		require.NoError(t, err)
		assert.Equal(t, batches*size, got.Recipients)
		assert.Equal(t, batches, got.Sent)
		assert.Equal(t, map[string]int{"reason_0": batches * 8, "reason_1": batches * 8, "reason_2": batches * 8}, got.Skipped)

		recipients, err := stores[0].BroadcastRecipients(t.Context(), id, 0, batches*size+1)
		require.NoError(t, err)
		require.Len(t, recipients, batches*size)
		for i, r := range recipients {
			assert.Equal(t, int64(i+1), r.Seq)
		}

		out, err := stores[0].Outbox(t.Context(), "acme", 0, 100)
		require.NoError(t, err)
		assert.Len(t, out, batches)
	})
}

func TestOutbox(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		var msgs []*OutgoingMsg
		for i := range 7 {
			msgs = append(msgs, &OutgoingMsg{Workspace: "ignored", URN: urns.URN(fmt.Sprintf("whatsapp:551199999%04d", i)), Text: fmt.Sprint("reply ", i), Source: "reply", CreatedOn: at(i)})
		}
		commit(t, s, &Change{Workspace: "acme", Outbox: msgs[:3]})
		commit(t, s, &Change{Workspace: "other", Outbox: msgs[3:4]})
		commit(t, s, &Change{Workspace: "acme", Outbox: msgs[4:]})

		var read []*OutgoingMsg
		var after int64
		for {
			page, err := s.Outbox(t.Context(), "acme", after, 4)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			assert.LessOrEqual(t, len(page), 4)
			read = append(read, page...)
			after = page[len(page)-1].ID
		}

		require.Len(t, read, 6)
		for i, m := range append(msgs[:3:3], msgs[4:]...) {
			assert.Equal(t, "acme", read[i].Workspace)
			assert.Equal(t, m.Text, read[i].Text)
			assert.Equal(t, m.CreatedOn, read[i].CreatedOn)
			if i > 0 {
				assert.Greater(t, read[i].ID, read[i-1].ID)
			}
		}
	})
}
