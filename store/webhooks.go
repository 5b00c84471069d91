package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/nyaruka/goflow/flows"
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

// sqlSelectPending reads pending events in the order they were queued, from past seq $1, leaving out the workspaces
// of the list $3. The partial index on seq gives that order directly, so a page costs its own rows however long the
// backlog, provided the database reads the index rather than sorting what it found (dialect.inOrder): a claim that
// numbered every contact's pending events, or asked of each event whether its contact had an older one, read the
// whole backlog each time, and on a table whose statistics were stale PostgreSQL ran the latter for each event anew.
const sqlSelectPending = `
  SELECT seq, workspace, contact_uuid, next_attempt, locked_until
    FROM webhook_events
   WHERE status = 'pending' AND seq > $1 AND NOT (workspace %s)
ORDER BY seq
   LIMIT $2`

// sqlLeaseWebhooks leases the events picked that still qualify. Two claimers can't both take an event: on SQLite
// because writers are serialized, and on PostgreSQL because the second to update a row waits for the first to commit
// and then finds it leased or delivered. An event picked stays its contact's first pending one: events are queued
// with a seq higher than any before them, and one that is no longer pending never is again.
const sqlLeaseWebhooks = `
UPDATE webhook_events SET locked_until = $1
 WHERE seq %s AND status = 'pending' AND (locked_until IS NULL OR locked_until < $3)
RETURNING ` + webhookColumns

// claimPage is how many pending events a claim reads at a time, at least: more than it may lease, so that events it
// can't take (a contact's later ones, those leased or not due, those of a workspace that runs out of room partway)
// seldom make it read another page.
const claimPage = 256

// ClaimWebhooks returns the events it leased oldest first: the first pending event of each contact, if due and not
// leased, of the workspaces with room. It reads the pending events in order, so that a contact's first is the first
// it meets: no query has to find it, and a claim reads only as far as the events it takes, past those it can't.
// The workspaces without room are left out by the query itself: however many events one has queued, the others'
// are found.
func (s *store) ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int, room map[string]int) ([]*WebhookEvent, error) {
	left := maps.Clone(room)
	if left == nil {
		left = map[string]int{}
	}
	type contact struct {
		workspace string
		uuid      flows.ContactUUID
	}
	type pending struct {
		seq                      int64
		workspace                string
		contactUUID              flows.ContactUUID
		nextAttempt, lockedUntil time.Time
	}
	scanPending := func(row rowScanner) (pending, error) {
		var p pending
		return p, row.Scan(&p.seq, &p.workspace, &p.contactUUID, scanTime(&p.nextAttempt), scanTime(&p.lockedUntil))
	}
	now = time.UnixMicro(now.UnixMicro()) // as stored
	page := max(claimPage, 4*limit)
	query := fmt.Sprintf(sqlSelectPending, s.dialect.in("$3"))

	var events []*WebhookEvent
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect.inOrder != "" {
			if _, err := tx.ExecContext(ctx, s.dialect.inOrder); err != nil {
				return err
			}
		}
		met := map[contact]bool{}
		var seqs []string
		for after := int64(0); len(seqs) < limit; {
			var full []string
			for ws, n := range left {
				if n <= 0 {
					full = append(full, ws)
				}
			}
			rows, err := queryRows(ctx, tx, scanPending, query, after, page, listOf(s.dialect, full))
			if err != nil {
				return err
			}
			for _, p := range rows {
				if len(seqs) == limit {
					break
				}
				after = p.seq
				c := contact{p.workspace, p.contactUUID}
				if met[c] {
					continue // the contact's first pending event was met before, and this one waits for it
				}
				met[c] = true
				if p.nextAttempt.After(now) || !p.lockedUntil.IsZero() && !p.lockedUntil.Before(now) {
					continue // not due, or leased
				}
				if n, bounded := left[p.workspace]; bounded {
					if n <= 0 {
						continue
					}
					left[p.workspace] = n - 1
				}
				seqs = append(seqs, strconv.FormatInt(p.seq, 10))
			}
			if len(rows) < page {
				break
			}
		}
		if len(seqs) == 0 {
			return nil
		}
		var err error
		events, err = queryRows(ctx, tx, scanWebhookEvent, fmt.Sprintf(sqlLeaseWebhooks, s.dialect.in("$2")), now.Add(lease).UnixMicro(), listOf(s.dialect, seqs), now.UnixMicro())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claiming webhook events: %w", err)
	}
	slices.SortFunc(events, func(a, b *WebhookEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	return events, nil
}

// sqlReleaseWebhooks ends the leases that a claim took, and only those: an event whose lease ran out and that another
// claim took since is left to it.
const sqlReleaseWebhooks = `
UPDATE webhook_events
   SET locked_until = NULL
 WHERE seq %s AND status = 'pending' AND locked_until = $2`

func (s *store) ReleaseWebhooks(ctx context.Context, seqs []int64, leasedUntil time.Time) error {
	if len(seqs) == 0 {
		return nil
	}
	list := make([]string, len(seqs))
	for i, seq := range seqs {
		list[i] = strconv.FormatInt(seq, 10)
	}
	if _, err := s.db.ExecContext(ctx, fmt.Sprintf(sqlReleaseWebhooks, s.dialect.in("$1")), listOf(s.dialect, list), leasedUntil.UnixMicro()); err != nil {
		return fmt.Errorf("releasing webhook events: %w", err)
	}
	return nil
}

// sqlUpdateWebhooksAttempted updates the events of a round of attempts in one statement, joined to the rows of VALUES
// by uuid, each row (uuid, status, next attempt, error, delivered on); PostgreSQL takes parameters in VALUES for
// text, so times are passed as textTime and cast. A failed or delivered event keeps the time of its last due attempt.
var sqlUpdateWebhooksAttempted = &bulkInsert{
	insert: `
UPDATE webhook_events
   SET status = v.column2, attempts = attempts + 1, next_attempt = COALESCE(CAST(v.column3 AS BIGINT), next_attempt),
       last_error = v.column4, delivered_on = CAST(v.column5 AS BIGINT), locked_until = NULL
  FROM (`,
	columns: 5,
	suffix: `) AS v
 WHERE webhook_events.uuid = v.column1
RETURNING webhook_events.seq, webhook_events.uuid`,
}

// textTime is dbTime as text, for a parameter that PostgreSQL types as text.
func textTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

var sqlInsertWebhookAttempts = &bulkInsert{
	insert:  `INSERT INTO webhook_attempts (event_seq, number, started_on, duration, status_code, error)`,
	columns: 6,
}

// RecordAttempts takes a delivered event as delivered when its attempt ended, and needs Next for an event to retry.
// The records are one transaction of two statements, so that a worker writes what many deliveries did with one
// commit.
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
		seqs := make(map[string]int64, len(records))
		err := sqlUpdateWebhooksAttempted.exec(ctx, tx, s.dialect, len(records), func(i int, args []any) []any {
			r := records[i]
			return append(args, r.Attempt.EventID, string(r.Outcome), textTime(updates[i].nextAttempt), r.Attempt.Error, textTime(updates[i].deliveredOn))
		}, func(rows *sql.Rows) error {
			var seq int64
			var id string
			if err := rows.Scan(&seq, &id); err != nil {
				return err
			}
			seqs[id] = seq
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range records {
			if _, ok := seqs[r.Attempt.EventID]; !ok {
				return fmt.Errorf("webhook event %s: %w", r.Attempt.EventID, ErrNotFound)
			}
		}
		return sqlInsertWebhookAttempts.exec(ctx, tx, s.dialect, len(records), func(i int, args []any) []any {
			a := records[i].Attempt
			return append(args, seqs[a.EventID], a.Number, dbTime(a.StartedOn), a.Duration.Microseconds(), a.StatusCode, a.Error)
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
