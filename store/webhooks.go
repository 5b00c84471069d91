package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// webhookColumns are the columns a WebhookEvent is read from, unqualified, as RETURNING has them: no column of
// webhook_attempts has any of their names.
const webhookColumns = `seq, uuid, workspace, contact_uuid, body, status, attempts, next_attempt, created_on, delivered_on, last_error`

// webhookEventDest is where the webhookColumns of e are scanned to.
func webhookEventDest(e *WebhookEvent) []any {
	return []any{&e.Seq, &e.ID, &e.Workspace, &e.ContactUUID, scanJSON(&e.Body), &e.Status, &e.Attempts,
		scanTime(&e.NextAttempt), scanTime(&e.CreatedOn), scanTime(&e.DeliveredOn), &e.LastError}
}

func scanWebhookEvent(row rowScanner) (*WebhookEvent, error) {
	e := &WebhookEvent{}
	return e, row.Scan(webhookEventDest(e)...)
}

var sqlInsertWebhookEvents = &bulkInsert{
	insert:  `INSERT INTO webhook_events (uuid, workspace, contact_uuid, body, status, attempts, next_attempt, created_on, last_error)`,
	columns: 9,
}

// insertWebhookEvents queues webhook events in order. An event is pending and due when it's created unless it says
// otherwise, and created now unless it says when.
func (s *store) insertWebhookEvents(ctx context.Context, tx *sql.Tx, workspace string, events []*WebhookEvent, now time.Time) error {
	err := sqlInsertWebhookEvents.exec(ctx, tx, s.dialect, len(events), func(i int, args []any) []any {
		e := events[i]
		status, createdOn, nextAttempt := e.Status, e.CreatedOn, e.NextAttempt
		if status == "" {
			status = WebhookPending
		}
		if createdOn.IsZero() {
			createdOn = now
		}
		if nextAttempt.IsZero() {
			nextAttempt = createdOn
		}
		return append(args, e.ID, workspace, e.ContactUUID, string(e.Body), status, e.Attempts, dbTime(nextAttempt),
			dbTime(createdOn), e.LastError)
	}, nil)
	if err != nil {
		return fmt.Errorf("writing webhook events: %w", err)
	}
	return nil
}

// sqlSelectClaimable picks the oldest due events that no one holds and that no older pending event of the same
// contact waits before, locking them until the claim commits. Two claimers can't both take an event: on SQLite
// because writers are serialized, and on PostgreSQL because the dialect's SKIP LOCKED makes a claimer pass over the
// rows another is claiming, and one that finds a row claimed since it started finds it no longer qualifies. Its %s is
// that clause.
const sqlSelectClaimable = `
  SELECT e.seq, e.workspace
    FROM webhook_events e
   WHERE e.status = 'pending' AND e.next_attempt <= $1 AND (e.locked_until IS NULL OR e.locked_until < $1)
     AND NOT EXISTS (
             SELECT 1
               FROM webhook_events o
              WHERE o.status = 'pending' AND o.workspace = e.workspace AND o.contact_uuid = e.contact_uuid AND o.seq < e.seq
         )
ORDER BY e.seq
   LIMIT $2%s`

const sqlLeaseWebhooks = `UPDATE webhook_events SET locked_until = $1 WHERE seq %s RETURNING ` + webhookColumns

// claimCandidates is how many more events a claim looks at than it may lease, so that workspaces without room don't
// keep it from finding those of others.
const claimCandidates = 4

// ClaimWebhooks returns the events it leased oldest first.
func (s *store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int, room func(workspace string) int) ([]*WebhookEvent, error) {
	var events []*WebhookEvent
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		type candidate struct {
			seq       int64
			workspace string
		}
		candidates, err := queryRows(ctx, tx, func(row rowScanner) (candidate, error) {
			var c candidate
			return c, row.Scan(&c.seq, &c.workspace)
		}, fmt.Sprintf(sqlSelectClaimable, s.dialect.skipLocked), now.UnixMicro(), claimCandidates*limit)
		if err != nil {
			return err
		}

		left := map[string]int{}
		var seqs []string
		for _, c := range candidates {
			if len(seqs) == limit {
				break
			}
			n, seen := left[c.workspace]
			if !seen {
				n = math.MaxInt
				if room != nil {
					n = room(c.workspace)
				}
			}
			if n <= 0 {
				left[c.workspace] = 0
				continue
			}
			left[c.workspace] = n - 1
			seqs = append(seqs, strconv.FormatInt(c.seq, 10))
		}
		if len(seqs) == 0 {
			return nil
		}
		query := fmt.Sprintf(sqlLeaseWebhooks, s.dialect.in("$2"))
		events, err = queryRows(ctx, tx, scanWebhookEvent, query, now.Add(lease).UnixMicro(), listOf(s.dialect, seqs))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claiming webhook events: %w", err)
	}
	slices.SortFunc(events, func(a, b *WebhookEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	return events, nil
}

// A failed or delivered event keeps the time of its last due attempt.
const (
	sqlUpdateWebhookAttempted = `
UPDATE webhook_events
   SET status = $2, attempts = attempts + 1, next_attempt = COALESCE($3, next_attempt), last_error = $4,
       delivered_on = $5, locked_until = NULL
 WHERE uuid = $1
RETURNING seq`
)

var sqlInsertWebhookAttempts = &bulkInsert{
	insert:  `INSERT INTO webhook_attempts (event_seq, number, started_on, duration, status_code, error)`,
	columns: 6,
}

// RecordAttempts takes a delivered event as delivered when its attempt ended, and needs Next for an event to retry.
// The records are one transaction, so that a worker writes what many deliveries did with one commit.
func (s *store) RecordAttempts(ctx context.Context, records []*AttemptRecord) error {
	type update struct {
		deliveredOn, nextAttempt time.Time
	}
	updates := make([]update, len(records))
	for i, r := range records {
		switch r.Outcome {
		case WebhookDelivered:
			updates[i].deliveredOn = r.Attempt.StartedOn.Add(r.Attempt.Duration)
		case WebhookPending:
			if r.Next.IsZero() {
				return fmt.Errorf("recording attempt of webhook event %s: retrying needs the time of the next attempt", r.Attempt.EventID)
			}
			updates[i].nextAttempt = r.Next
		case WebhookFailed:
		default:
			return fmt.Errorf("recording attempt of webhook event %s: no such status %q", r.Attempt.EventID, r.Outcome)
		}
	}

	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, sqlUpdateWebhookAttempted)
		if err != nil {
			return err
		}
		defer stmt.Close()
		seqs := make([]int64, len(records))
		for i, r := range records {
			err := stmt.QueryRowContext(ctx, r.Attempt.EventID, r.Outcome, dbTime(updates[i].nextAttempt), r.Attempt.Error, dbTime(updates[i].deliveredOn)).Scan(&seqs[i])
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("webhook event %s: %w", r.Attempt.EventID, ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		return sqlInsertWebhookAttempts.exec(ctx, tx, s.dialect, len(records), func(i int, args []any) []any {
			a := records[i].Attempt
			return append(args, seqs[i], a.Number, dbTime(a.StartedOn), a.Duration.Microseconds(), a.StatusCode, a.Error)
		}, nil)
	})
	if err != nil {
		return fmt.Errorf("recording webhook attempts: %w", err)
	}
	return nil
}

// The event and its attempts are one query, so that they agree: the attempt columns are NULL for an event without any.
const sqlSelectWebhookEvent = `
  SELECT ` + webhookColumns + `, a.id, a.number, a.started_on, a.duration, a.status_code, a.error
    FROM webhook_events e
    LEFT JOIN webhook_attempts a ON a.event_seq = e.seq
   WHERE e.workspace = $1 AND e.uuid = $2
ORDER BY a.id`

func (s *store) WebhookEvent(ctx context.Context, workspace string, id string) (*WebhookEvent, []*WebhookAttempt, error) {
	rows, err := s.db.QueryContext(ctx, sqlSelectWebhookEvent, workspace, id)
	if err != nil {
		return nil, nil, fmt.Errorf("reading webhook event %s: %w", id, err)
	}
	defer rows.Close()

	var event *WebhookEvent
	var attempts []*WebhookAttempt
	for rows.Next() {
		e := &WebhookEvent{}
		var attemptID, number, duration, statusCode sql.NullInt64
		var startedOn time.Time
		var attemptErr sql.NullString
		dest := append(webhookEventDest(e), &attemptID, &number, scanTime(&startedOn), &duration, &statusCode, &attemptErr)
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, fmt.Errorf("reading webhook event %s: %w", id, err)
		}
		event = e
		if attemptID.Valid {
			attempts = append(attempts, &WebhookAttempt{
				EventID:    e.ID,
				Number:     int(number.Int64),
				StartedOn:  startedOn,
				Duration:   time.Duration(duration.Int64) * time.Microsecond,
				StatusCode: int(statusCode.Int64),
				Error:      attemptErr.String,
			})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading webhook event %s: %w", id, err)
	}
	if event == nil {
		return nil, nil, fmt.Errorf("webhook event %s: %w", id, ErrNotFound)
	}
	return event, attempts, nil
}

const (
	sqlSelectWebhookEvents = `
  SELECT ` + webhookColumns + `
    FROM webhook_events
   WHERE workspace = $1 AND seq > $2
ORDER BY seq
   LIMIT $3`

	sqlSelectWebhookEventsByStatus = `
  SELECT ` + webhookColumns + `
    FROM webhook_events
   WHERE workspace = $1 AND status = $4 AND seq > $2
ORDER BY seq
   LIMIT $3`
)

func (s *store) WebhookEvents(ctx context.Context, workspace string, status WebhookStatus, after int64, limit int) ([]*WebhookEvent, error) {
	query, args := sqlSelectWebhookEvents, []any{workspace, after, limit}
	if status != "" {
		query, args = sqlSelectWebhookEventsByStatus, append(args, status)
	}
	events, err := queryRows(ctx, s.db, scanWebhookEvent, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading webhook events: %w", err)
	}
	return events, nil
}

const sqlSelectOldestPendingWebhook = `SELECT MIN(created_on) FROM webhook_events WHERE status = 'pending'`

func (s *store) OldestPendingWebhook(ctx context.Context) (time.Time, error) {
	var oldest time.Time
	if err := s.db.QueryRowContext(ctx, sqlSelectOldestPendingWebhook).Scan(scanTime(&oldest)); err != nil {
		return time.Time{}, fmt.Errorf("reading oldest pending webhook event: %w", err)
	}
	return oldest, nil
}
