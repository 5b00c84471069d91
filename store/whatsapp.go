package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// OutboxStatus is where a queued message is on its way to the contact.
type OutboxStatus string

// The statuses of a queued message. Sent, delivered and read are Meta's, as its status webhooks report them.
const (
	OutboxUnsent    OutboxStatus = "unsent"   // queued in a workspace without a WhatsApp connection: no sender sends it
	OutboxQueued    OutboxStatus = "queued"   // waiting for the sender, the first time or again after a failure
	OutboxAccepted  OutboxStatus = "accepted" // the Cloud API took it and gave it a wamid
	OutboxSent      OutboxStatus = "sent"
	OutboxDelivered OutboxStatus = "delivered"
	OutboxRead      OutboxStatus = "read"
	OutboxFailed    OutboxStatus = "failed"  // Meta refused it or couldn't deliver it, for good: Reason says why
	OutboxSkipped   OutboxStatus = "skipped" // the decision at send time was not to send it: Reason says why
)

// OutgoingUpdate is what happened to a queued message. It applies only to a message whose status is one of From and,
// when WAMIDWas is set, whose wamid is that or not recorded yet, so that a late or repeated report, or one about an
// earlier send of the message, never moves it back.
type OutgoingUpdate struct {
	ID       int64
	From     []OutboxStatus
	WAMIDWas string

	Status      OutboxStatus
	WAMID       string // recorded when not empty
	Reason      string
	Error       string
	NextAttempt time.Time // when a message queued again is due
	Deferred    bool      // counts a deferral by Meta's per-user marketing limit
	At          time.Time
}

// InboxItem is one event of a webhook notification from Meta, kept as it arrived until it has been acted on.
type InboxItem struct {
	ID        int64 // assigned by the store
	Workspace string
	Kind      string          // message, status or preference
	Key       string          // the same for a redelivery of the same event, which is then not kept again
	Contact   string          // the user it is about: one user's events are acted on in the order they arrived
	Payload   json.RawMessage // the event
	Attempts  int
	Received  time.Time
}

// TemplateChange is Meta changing a template's category, or announcing that it will: a row of the templates log.
type TemplateChange struct {
	ID               int64 // assigned by the store
	Workspace        string
	Key              string // the same for a redelivery of the same notification, which is then not kept again
	TemplateID       string
	Template         string // the template's name, which the workspace's templates map is keyed by
	Language         string
	PreviousCategory string // for an announced change, the category the template has until EffectiveOn
	Category         string
	Announced        bool
	EffectiveOn      time.Time // when the change takes effect: when it was received, for one that already did
	AppliedOn        time.Time // zero until the workspace's templates map has it
	ReceivedOn       time.Time
}

var (
	sqlInsertInbox = &bulkInsert{
		insert:  `INSERT INTO whatsapp_inbox (workspace, kind, key, contact, payload, status, attempts, next_attempt, received_on, last_error)`,
		columns: 10,
		suffix:  ` ON CONFLICT DO NOTHING RETURNING id`,
	}
	sqlInsertTemplateChanges = &bulkInsert{
		insert:  `INSERT INTO template_changes (workspace, key, template_id, template, language, previous_category, category, announced, effective_on, received_on)`,
		columns: 10,
		suffix:  ` ON CONFLICT DO NOTHING RETURNING id`,
	}
)

// ReceiveWhatsApp keeps what a webhook notification brought, in one transaction, leaving out what an earlier delivery
// already brought. It returns how many items and changes were new.
func (s *store) ReceiveWhatsApp(ctx context.Context, workspace string, items []*InboxItem, changes []*TemplateChange) (int, error) {
	added := 0
	count := func(*sql.Rows) error { added++; return nil }
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := sqlInsertInbox.exec(ctx, tx, s.dialect, len(items), func(i int, args []any) []any {
			it := items[i]
			return append(args, workspace, it.Kind, it.Key, it.Contact, dbJSON(it.Payload), inboxPending, 0,
				dbTime(it.Received), dbTime(it.Received), "")
		}, count)
		if err != nil {
			return err
		}
		return sqlInsertTemplateChanges.exec(ctx, tx, s.dialect, len(changes), func(i int, args []any) []any {
			c := changes[i]
			return append(args, workspace, c.Key, c.TemplateID, c.Template, c.Language, c.PreviousCategory, c.Category,
				c.Announced, dbTime(c.EffectiveOn), dbTime(c.ReceivedOn))
		}, count)
	})
	if err != nil {
		return 0, fmt.Errorf("keeping a WhatsApp notification: %w", err)
	}
	return added, nil
}

// The statuses of an inbox item.
const (
	inboxPending = "pending"
	inboxDone    = "done"
	inboxFailed  = "failed"
)

const inboxColumns = `id, workspace, kind, key, contact, payload, attempts, received_on`

func scanInboxItem(row rowScanner) (*InboxItem, error) {
	it := &InboxItem{}
	return it, row.Scan(&it.ID, &it.Workspace, &it.Kind, &it.Key, &it.Contact, scanJSON(&it.Payload), &it.Attempts, scanTime(&it.Received))
}

// sqlClaimInbox leases the oldest due items that no one holds and that no older pending item of the same user waits
// before; its %s is the dialect's SKIP LOCKED. Unlike a webhook claim, it asks of each item whether its user has an
// older one: the only index that answers that is whatsapp_inbox_pending_contact, where webhook events had another
// that PostgreSQL, on stale statistics, took instead and read a whole backlog with for each event.
const sqlClaimInbox = `
UPDATE whatsapp_inbox
   SET locked_until = $2
 WHERE id IN (
           SELECT e.id
             FROM whatsapp_inbox e
            WHERE e.status = 'pending' AND e.next_attempt <= $1 AND (e.locked_until IS NULL OR e.locked_until < $1)
              AND NOT EXISTS (
                      SELECT 1
                        FROM whatsapp_inbox o
                       WHERE o.status = 'pending' AND o.workspace = e.workspace AND o.contact = e.contact AND o.id < e.id
                  )
         ORDER BY e.id
            LIMIT $3%s
       )
RETURNING ` + inboxColumns

// ClaimInbox returns the items it leased oldest first.
func (s *store) ClaimInbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*InboxItem, error) {
	query := fmt.Sprintf(sqlClaimInbox, s.dialect.skipLocked)
	items, err := queryRows(ctx, s.db, scanInboxItem, query, now.UnixMicro(), now.Add(lease).UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("claiming WhatsApp events: %w", err)
	}
	slices.SortFunc(items, func(a, b *InboxItem) int { return cmp.Compare(a.ID, b.ID) })
	return items, nil
}

const sqlFinishInbox = `
UPDATE whatsapp_inbox
   SET status = $2, attempts = attempts + 1, next_attempt = COALESCE($3, next_attempt), last_error = $4,
       processed_on = $5, locked_until = NULL
 WHERE id = $1`

// FinishInbox records an attempt at acting on an item: done when err is empty, due again at retry when it isn't and
// retry isn't zero, and failed for good otherwise.
func (s *store) FinishInbox(ctx context.Context, id int64, now time.Time, err string, retry time.Time) error {
	status, processed := inboxDone, now
	switch {
	case err == "":
	case !retry.IsZero():
		status, processed = inboxPending, time.Time{}
	default:
		status = inboxFailed
	}
	if _, e := s.db.ExecContext(ctx, sqlFinishInbox, id, status, dbTime(retry), err, dbTime(processed)); e != nil {
		return fmt.Errorf("recording WhatsApp event %d: %w", id, e)
	}
	return nil
}

// A message is due when it is queued, its time has come and no sender holds it. Only connected workspaces are
// looked at: a workspace whose connection was removed keeps its queue until it is connected again.
const (
	sqlSelectOutboxWorkspaces = `
SELECT DISTINCT workspace
  FROM outbox
 WHERE status = 'queued' AND (next_attempt IS NULL OR next_attempt <= $1) AND (locked_until IS NULL OR locked_until < $1)
   AND workspace IN (SELECT id FROM workspaces WHERE whatsapp IS NOT NULL)`

	// its %s is the dialect's SKIP LOCKED, as in sqlClaimWebhooks
	sqlClaimOutbox = `
UPDATE outbox
   SET locked_until = $3, attempts = attempts + 1
 WHERE id IN (
           SELECT e.id
             FROM outbox e
            WHERE e.workspace = $1 AND e.status = 'queued' AND (e.next_attempt IS NULL OR e.next_attempt <= $2)
              AND (e.locked_until IS NULL OR e.locked_until < $2)
         ORDER BY e.id
            LIMIT $4%s
       )
RETURNING ` + outboxColumns
)

// OutboxWorkspaces returns the connected workspaces with messages due at now.
func (s *store) OutboxWorkspaces(ctx context.Context, now time.Time) ([]string, error) {
	ids, err := queryRows(ctx, s.db, scanString, sqlSelectOutboxWorkspaces, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("looking for messages to send: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// ClaimOutbox returns the messages it leased oldest first.
func (s *store) ClaimOutbox(ctx context.Context, workspace string, now time.Time, lease time.Duration, limit int) ([]*OutgoingMsg, error) {
	query := fmt.Sprintf(sqlClaimOutbox, s.dialect.skipLocked)
	msgs, err := queryRows(ctx, s.db, scanOutgoingMsg, query, workspace, now.UnixMicro(), now.Add(lease).UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("claiming messages to send: %w", err)
	}
	slices.SortFunc(msgs, func(a, b *OutgoingMsg) int { return cmp.Compare(a.ID, b.ID) })
	return msgs, nil
}

const sqlReleaseOutgoing = `UPDATE outbox SET locked_until = NULL WHERE id = $1 AND status = 'queued'`

// ReleaseOutbox gives up the leases of claimed messages that weren't sent, so that they go at once rather than when
// the lease runs out.
func (s *store) ReleaseOutbox(ctx context.Context, ids []int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, sqlReleaseOutgoing, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("releasing messages to send: %w", err)
	}
	return nil
}

// The wamid is kept when the update has none, and matched when the update says which it was: a status webhook can
// come before the sender recorded the wamid.
const sqlUpdateOutgoing = `
UPDATE outbox
   SET status = $2, wamid = COALESCE(NULLIF($3, ''), wamid), reason = $4, last_error = $5, next_attempt = $6,
       deferrals = deferrals + $7, updated_on = $8, locked_until = NULL
 WHERE id = $1 AND status %s AND ($9 = '' OR wamid = $9 OR wamid = '')`

// UpdateOutgoing applies an update, and returns whether it applied: false for a message that is not in one of its
// From statuses, or has another wamid than WAMIDWas.
func (s *store) UpdateOutgoing(ctx context.Context, u *OutgoingUpdate) (bool, error) {
	deferred := 0
	if u.Deferred {
		deferred = 1
	}
	query := fmt.Sprintf(sqlUpdateOutgoing, s.dialect.in("$10"))
	n, err := execCount(ctx, s.db, query, u.ID, u.Status, u.WAMID, u.Reason, u.Error, dbTime(u.NextAttempt), deferred,
		dbTime(u.At), u.WAMIDWas, listOf(s.dialect, u.From))
	if err != nil {
		return false, fmt.Errorf("updating message %d: %w", u.ID, err)
	}
	return n > 0, nil
}

// A status names its message by wamid, and by its outbox ID when the sender gave that as the callback data, which
// finds a message whose wamid was never recorded; the wamid wins when both find one.
const sqlSelectOutgoing = `
  SELECT ` + outboxColumns + `
    FROM outbox
   WHERE workspace = $1 AND (wamid = $2 OR id = $3)
ORDER BY CASE WHEN wamid = $2 THEN 0 ELSE 1 END
   LIMIT 1`

// FindOutgoing returns the workspace's message with the wamid, or else with the ID, or ErrNotFound.
func (s *store) FindOutgoing(ctx context.Context, workspace, wamid string, id int64) (*OutgoingMsg, error) {
	m, err := scanOutgoingMsg(s.db.QueryRowContext(ctx, sqlSelectOutgoing, workspace, wamid, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("message %s: %w", wamid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading message %s: %w", wamid, err)
	}
	return m, nil
}

const templateChangeColumns = `id, workspace, key, template_id, template, language, previous_category, category, announced,
       effective_on, applied_on, received_on`

func scanTemplateChange(row rowScanner) (*TemplateChange, error) {
	c := &TemplateChange{}
	return c, row.Scan(&c.ID, &c.Workspace, &c.Key, &c.TemplateID, &c.Template, &c.Language, &c.PreviousCategory,
		&c.Category, &c.Announced, scanTime(&c.EffectiveOn), scanTime(&c.AppliedOn), scanTime(&c.ReceivedOn))
}

const (
	sqlSelectDueTemplateChanges = `
  SELECT ` + templateChangeColumns + `
    FROM template_changes
   WHERE applied_on IS NULL AND effective_on <= $1
ORDER BY effective_on, id
   LIMIT $2`

	sqlSelectTemplateChanges = `
  SELECT ` + templateChangeColumns + `
    FROM template_changes
   WHERE workspace = $1 AND id > $2
ORDER BY id
   LIMIT $3`
)

// DueTemplateChanges returns the changes not applied yet whose time has come, in the order they take effect.
func (s *store) DueTemplateChanges(ctx context.Context, now time.Time, limit int) ([]*TemplateChange, error) {
	changes, err := queryRows(ctx, s.db, scanTemplateChange, sqlSelectDueTemplateChanges, now.UnixMicro(), limit)
	if err != nil {
		return nil, fmt.Errorf("reading due template changes: %w", err)
	}
	return changes, nil
}

// TemplateChanges returns the workspace's templates log with IDs greater than after, oldest first, at most limit.
func (s *store) TemplateChanges(ctx context.Context, workspace string, after int64, limit int) ([]*TemplateChange, error) {
	changes, err := queryRows(ctx, s.db, scanTemplateChange, sqlSelectTemplateChanges, workspace, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading template changes: %w", err)
	}
	return changes, nil
}

const (
	sqlMarkTemplateChangeApplied = `UPDATE template_changes SET applied_on = $2 WHERE id = $1 AND applied_on IS NULL`
	sqlSelectWorkspaceConfig     = `SELECT config FROM workspaces WHERE id = $1`
	sqlUpdateWorkspaceConfig     = `UPDATE workspaces SET config = $2 WHERE id = $1`
)

// ApplyTemplateChange marks the change applied and rewrites its workspace's configuration with edit, bumping the
// workspace's version so that every instance compiles it again, in one transaction. It returns false, having done
// nothing, for a change that was applied already.
func (s *store) ApplyTemplateChange(ctx context.Context, change *TemplateChange, now time.Time, edit func(config json.RawMessage) (json.RawMessage, error)) (bool, error) {
	applied := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := execCount(ctx, tx, sqlMarkTemplateChangeApplied, change.ID, dbTime(now))
		if err != nil || n == 0 {
			return err
		}
		// bumping the version first locks the workspace's row, so that no other write of its configuration comes
		// between the read and the write
		if n, err := execCount(ctx, tx, sqlBumpWorkspace, change.Workspace, dbTime(now)); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		var config json.RawMessage
		if err := tx.QueryRowContext(ctx, sqlSelectWorkspaceConfig, change.Workspace).Scan(scanJSON(&config)); err != nil {
			return err
		}
		if config, err = edit(config); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlUpdateWorkspaceConfig, change.Workspace, dbJSON(config)); err != nil {
			return err
		}
		applied = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("applying template change %d: %w", change.ID, err)
	}
	return applied, nil
}
