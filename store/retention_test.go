package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Prune deletes what was done before its times, in batches, dependents first, and never the audit log or what is
// still to do.
func TestPrune(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		ana := newContact("whatsapp:5511987650001", "opted_out")
		var events []*WebhookEvent
		for i := range pruneBatch + 3 { // more than a batch of answers, to prune in two
			change := &Change{Workspace: "acme", Message: &ProcessedMessage{UUID: flows.InputUUID(uuids.NewV4()), Response: json.RawMessage(`{}`)}}
			if i < 4 {
				e := &WebhookEvent{ID: string(uuids.NewV4()), ContactUUID: flows.ContactUUID(fmt.Sprintf("c%d", i)), Body: json.RawMessage(`{}`)}
				events = append(events, e)
				change.Webhooks = []*WebhookEvent{e}
				change.Contacts = []*Contact{ana}
				change.Consent = []*ConsentEvent{{ContactUUID: ana.UUID, URN: ana.URN, After: "opted_out", Source: SourceKeyword, OccurredOn: at(0)}}
				change.Outbox = []*OutgoingMsg{{URN: ana.URN, Text: "bye", Source: "reply", CreatedOn: time.Now()}}
			}
			commit(t, s, change)
		}
		// three delivered, one still pending
		claimed, err := s.ClaimWebhooks(t.Context(), time.Now(), time.Minute, 4, nil)
		require.NoError(t, err)
		require.Len(t, claimed, 4)
		var records []*AttemptRecord
		for i, e := range events {
			r := &AttemptRecord{Attempt: &WebhookAttempt{EventID: e.ID, Number: 1, StartedOn: time.Now(), StatusCode: 200}, Outcome: WebhookDelivered}
			if i == 3 {
				r.Outcome, r.Next, r.Attempt.Error = WebhookPending, time.Now().Add(time.Hour), "500"
			}
			records = append(records, r)
		}
		require.NoError(t, s.RecordAttempts(t.Context(), records))

		// nothing is old enough yet
		pruned, err := s.Prune(t.Context(), Retention{Answers: time.Now().Add(-time.Hour), Delivered: time.Now().Add(-time.Hour), Inbox: time.Now().Add(-time.Hour)})
		require.NoError(t, err)
		assert.Zero(t, pruned["processed_messages"]+pruned["webhook_events"]+pruned["webhook_attempts"])

		later := time.Now().Add(time.Hour)
		pruned, err = s.Prune(t.Context(), Retention{Answers: later, Delivered: later})
		require.NoError(t, err)
		assert.Equal(t, int64(pruneBatch+3), pruned["processed_messages"])
		assert.Equal(t, int64(3), pruned["webhook_events"])
		assert.Equal(t, int64(3), pruned["webhook_attempts"])

		_, _, err = s.WebhookEvent(t.Context(), "acme", events[0].ID)
		assert.ErrorIs(t, err, ErrNotFound)
		pending, attempts, err := s.WebhookEvent(t.Context(), "acme", events[3].ID)
		require.NoError(t, err, "an event still to deliver is kept")
		assert.Equal(t, WebhookPending, pending.Status)
		assert.Len(t, attempts, 1)
		outbox, err := s.Outbox(t.Context(), "acme", 0, 10)
		require.NoError(t, err)
		assert.Empty(t, outbox, "messages that are never to be sent go too")
		audit, err := s.ConsentEvents(t.Context(), "acme", "", 0, 10)
		require.NoError(t, err)
		assert.Len(t, audit, 4, "the audit log is never pruned")
	})
}
