package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// decisionSend is the decision of a recipient who is sent the message; every other decision is a skip.
const decisionSend = "send"

const sqlInsertBroadcast = `
INSERT INTO broadcasts (id, workspace, request, dry_run, created_on, sent, skipped, recipients, finished_on)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT DO NOTHING`

// CreateBroadcast returns ErrConflict if a broadcast with the ID exists.
func (s *store) CreateBroadcast(ctx context.Context, b *Broadcast) error {
	skipped := []byte(`{}`)
	if len(b.Skipped) > 0 {
		var err error
		if skipped, err = json.Marshal(b.Skipped); err != nil {
			return fmt.Errorf("creating broadcast %s: %w", b.ID, err)
		}
	}

	n, err := execCount(ctx, s.db, sqlInsertBroadcast, b.ID, b.Workspace, dbJSON(b.Request), b.DryRun, dbTime(b.CreatedOn),
		b.Sent, string(skipped), b.Recipients, dbTime(b.FinishedOn))
	if err != nil {
		return fmt.Errorf("creating broadcast %s: %w", b.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("broadcast %s: %w", b.ID, ErrConflict)
	}
	return nil
}

// Adding to the counts locks the broadcast's row until the batch commits, which keeps concurrent batches from
// numbering their recipients the same, and from losing each other's skips when they replace the map of them.
const (
	sqlAddBroadcastCounts = `
UPDATE broadcasts SET sent = sent + $2, recipients = recipients + $3 WHERE id = $1
RETURNING workspace, recipients, skipped`

	sqlUpdateBroadcastSkipped = `UPDATE broadcasts SET skipped = $2 WHERE id = $1`
)

// The recipients are the rows of $3, each an array of its URN, decision, reason and contact UUID, numbered from $2;
// and the broadcast's message is queued from the same rows, to those decided send, the same for every one of them
// but for its URN and contact, so that the rows carry only what differs.
const (
	sqlInsertBroadcastRecipients = `
INSERT INTO broadcast_recipients (broadcast_id, seq, urn, decision, reason)
     SELECT $1, $2 + r.key, r.value->>0, r.value->>1, r.value->>2
       FROM %s
   ORDER BY r.key`

	sqlQueueBroadcastMsg = `
INSERT INTO outbox (workspace, contact_uuid, urn, channel_uuid, text, template, source, broadcast_id, created_on, status,
                    category, language, components)
     SELECT $1, r.value->>3, r.value->>0, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
       FROM %s
      WHERE r.value->>1 = $2
   ORDER BY r.key`
)

// AddBroadcastBatch numbers the recipients after those of earlier batches, setting their Seq, and queues the message
// to those decided send in the broadcast's workspace. It returns ErrNotFound if there's no such broadcast.
func (s *store) AddBroadcastBatch(ctx context.Context, broadcast string, recipients []*BroadcastRecipient, msg *OutgoingMsg) error {
	sent, skips := 0, map[string]int{}
	for _, r := range recipients {
		if r.Decision == decisionSend {
			sent++
		} else {
			skips[r.Reason]++
		}
	}

	var first int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var workspace string
		var total int64
		var skippedJSON []byte
		err := tx.QueryRowContext(ctx, sqlAddBroadcastCounts, broadcast, sent, len(recipients)).Scan(&workspace, &total, &skippedJSON)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		first = total - int64(len(recipients)) + 1

		if len(skips) > 0 {
			skipped := map[string]int{}
			if err := json.Unmarshal(skippedJSON, &skipped); err != nil {
				return fmt.Errorf("reading skips: %w", err)
			}
			for reason, n := range skips {
				skipped[reason] += n
			}
			skippedJSON, err = json.Marshal(skipped)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, sqlUpdateBroadcastSkipped, broadcast, string(skippedJSON)); err != nil {
				return err
			}
		}

		if len(recipients) == 0 {
			return nil
		}
		rows, err := jsonRows(len(recipients), func(i int) []any {
			r := recipients[i]
			return []any{r.URN, r.Decision, r.Reason, r.ContactUUID}
		})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.dialect.fromRows(sqlInsertBroadcastRecipients, "$3"), broadcast, first, rows); err != nil {
			return fmt.Errorf("writing recipients: %w", err)
		}
		if msg == nil || sent == 0 {
			return nil
		}
		status, err := s.outboxStatus(ctx, tx, workspace)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.dialect.fromRows(sqlQueueBroadcastMsg, "$3"), workspace, decisionSend, rows, msg.Channel,
			msg.Text, msg.Template, msg.Source, msg.BroadcastID, dbTime(msg.CreatedOn), status, msg.Category, msg.Language,
			dbJSON(msg.Components))
		if err != nil {
			return fmt.Errorf("writing outbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adding batch to broadcast %s: %w", broadcast, err)
	}

	for i, r := range recipients {
		r.Seq = first + int64(i)
	}
	return nil
}

const sqlFinishBroadcast = `UPDATE broadcasts SET finished_on = $2 WHERE id = $1`

// FinishBroadcast returns ErrNotFound if there's no such broadcast.
func (s *store) FinishBroadcast(ctx context.Context, broadcast string, finishedOn time.Time) error {
	n, err := execCount(ctx, s.db, sqlFinishBroadcast, broadcast, dbTime(finishedOn))
	if err != nil {
		return fmt.Errorf("finishing broadcast %s: %w", broadcast, err)
	}
	if n == 0 {
		return fmt.Errorf("broadcast %s: %w", broadcast, ErrNotFound)
	}
	return nil
}

const sqlSelectBroadcast = `
SELECT id, workspace, request, dry_run, created_on, sent, skipped, recipients, finished_on
  FROM broadcasts
 WHERE workspace = $1 AND id = $2`

func (s *store) GetBroadcast(ctx context.Context, workspace string, id string) (*Broadcast, error) {
	b := &Broadcast{}
	var skipped []byte
	err := s.db.QueryRowContext(ctx, sqlSelectBroadcast, workspace, id).Scan(
		&b.ID, &b.Workspace, scanJSON(&b.Request), &b.DryRun, scanTime(&b.CreatedOn), &b.Sent, &skipped, &b.Recipients,
		scanTime(&b.FinishedOn),
	)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("broadcast %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading broadcast %s: %w", id, err)
	}
	if err := json.Unmarshal(skipped, &b.Skipped); err != nil {
		return nil, fmt.Errorf("reading skips of broadcast %s: %w", id, err)
	}
	return b, nil
}

const sqlSelectBroadcastRecipients = `
  SELECT seq, urn, decision, reason
    FROM broadcast_recipients
   WHERE broadcast_id = $1 AND seq > $2
ORDER BY seq
   LIMIT $3`

func (s *store) BroadcastRecipients(ctx context.Context, broadcast string, after int64, limit int) ([]*BroadcastRecipient, error) {
	recipients, err := queryRows(ctx, s.db, func(row rowScanner) (*BroadcastRecipient, error) {
		r := &BroadcastRecipient{}
		return r, row.Scan(&r.Seq, &r.URN, &r.Decision, &r.Reason)
	}, sqlSelectBroadcastRecipients, broadcast, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading recipients of broadcast %s: %w", broadcast, err)
	}
	return recipients, nil
}
