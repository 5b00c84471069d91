package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/nyaruka/goflow/flows"
)

// A message or a campaign fire is recorded with ON CONFLICT DO NOTHING, so that one already recorded writes no row and
// its change is refused, and two changes for the same one racing each other can't both commit: the second waits on
// the first's row in the unique key and finds it there. RETURNING names those recorded, of the batch's.
var (
	sqlInsertProcessedMessages = &bulkInsert{
		insert:  `INSERT INTO processed_messages (workspace, msg_uuid, response, created_on)`,
		columns: 4,
		suffix:  ` ON CONFLICT DO NOTHING RETURNING workspace, msg_uuid`,
	}

	sqlInsertCampaignFires = &bulkInsert{
		insert:  `INSERT INTO campaign_fires (workspace, event_uuid, contact_uuid, decision, reason, fired_on)`,
		columns: 6,
		suffix:  ` ON CONFLICT DO NOTHING RETURNING workspace, event_uuid, contact_uuid`,
	}
)

// Commit writes everything under the change's workspace, whatever the Workspace of its webhook events and outgoing
// messages says. IDs and sequence numbers are assigned in the database, and not set on the change. A change of one
// contact is committed with the others waiting at the time (see groupCommitter); a bigger one, an import's, alone.
func (s *store) Commit(ctx context.Context, c *Change) error {
	if len(c.Contacts) > 1 {
		return s.commitChanges(ctx, []*Change{c})[0]
	}
	return s.committer.commit(ctx, c)
}

func (s *store) CommitPages(ctx context.Context, fn func(write func(*Change) error) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return fn(func(c *Change) error {
			errs := make([]error, 1)
			if err := s.writeChanges(ctx, tx, []*Change{c}, errs); err != nil {
				return fmt.Errorf("committing change: %w", err)
			}
			return errs[0]
		})
	})
}

// commitChanges writes changes in one transaction, and returns what became of each: nil, or an error wrapping
// ErrConflict for one whose message or campaign fire was already recorded, which writes nothing. An error the
// database gives the transaction fails the batch, and each change is then tried alone, so that a change the
// database refuses fails only itself.
func (s *store) commitChanges(ctx context.Context, changes []*Change) []error {
	errs := make([]error, len(changes))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		clear(errs)
		return s.writeChanges(ctx, tx, changes, errs)
	})
	if err == nil {
		return errs
	}
	if len(changes) == 1 {
		errs[0] = fmt.Errorf("committing change: %w", err)
		return errs
	}
	for i := range changes {
		errs[i] = s.commitChanges(ctx, changes[i:i+1])[0]
	}
	return errs
}

// writeChanges writes the changes that none of their messages and campaign fires refuses, setting errs for those it
// refuses. Each statement writes the rows of every change. The rows are dated by the latest of the changes' At: they
// are all written at once.
func (s *store) writeChanges(ctx context.Context, tx *sql.Tx, changes []*Change, errs []error) error {
	var now time.Time
	for _, c := range changes {
		if c.At.After(now) {
			now = c.At
		}
	}
	if now.IsZero() {
		now = time.Now()
	}

	if err := s.recordMessages(ctx, tx, changes, errs, now); err != nil {
		return err
	}
	if err := s.recordCampaignFires(ctx, tx, changes, errs); err != nil {
		return err
	}

	// the rest of each workspace's changes together, workspaces in the order the batch first has them
	var order []string
	byWorkspace := map[string]*Change{}
	for i, c := range changes {
		if errs[i] != nil {
			continue
		}
		w := byWorkspace[c.Workspace]
		if w == nil {
			w = &Change{Workspace: c.Workspace}
			byWorkspace[c.Workspace] = w
			order = append(order, c.Workspace)
		}
		w.Contacts = append(w.Contacts, c.Contacts...)
		w.Consent = append(w.Consent, c.Consent...)
		w.Webhooks = append(w.Webhooks, c.Webhooks...)
		w.Outbox = append(w.Outbox, c.Outbox...)
	}
	for _, ws := range order {
		w := byWorkspace[ws]
		if err := s.writeContacts(ctx, tx, ws, w.Contacts, now); err != nil {
			return err
		}
		if err := s.writeSessions(ctx, tx, ws, changes, errs); err != nil {
			return err
		}
		if err := s.insertConsentEvents(ctx, tx, ws, w.Consent); err != nil {
			return err
		}
		if err := s.insertWebhookEvents(ctx, tx, ws, w.Webhooks, now); err != nil {
			return err
		}
		if err := s.insertOutbox(ctx, tx, ws, w.Outbox); err != nil {
			return err
		}
	}
	return nil
}

// recordMessages records the changes' messages as processed, and refuses each change whose message already was.
func (s *store) recordMessages(ctx context.Context, tx *sql.Tx, changes []*Change, errs []error, now time.Time) error {
	var recording []int
	for i, c := range changes {
		if c.Message != nil {
			recording = append(recording, i)
		}
	}
	recorded := map[[2]string]bool{}
	err := sqlInsertProcessedMessages.exec(ctx, tx, s.dialect, len(recording), func(i int, args []any) []any {
		c := changes[recording[i]]
		return append(args, c.Workspace, c.Message.UUID, dbJSON(c.Message.Response), dbTime(now))
	}, func(rows *sql.Rows) error {
		var key [2]string
		if err := rows.Scan(&key[0], &key[1]); err != nil {
			return err
		}
		recorded[key] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording messages: %w", err)
	}
	for _, i := range recording {
		c := changes[i]
		if !recorded[[2]string{c.Workspace, string(c.Message.UUID)}] {
			errs[i] = fmt.Errorf("message %s: %w", c.Message.UUID, ErrConflict)
		}
	}
	return nil
}

// recordCampaignFires records the changes' campaign fires, and refuses each change whose fire already was recorded.
func (s *store) recordCampaignFires(ctx context.Context, tx *sql.Tx, changes []*Change, errs []error) error {
	var recording []int
	for i, c := range changes {
		if c.CampaignFire != nil && errs[i] == nil {
			recording = append(recording, i)
		}
	}
	recorded := map[[3]string]bool{}
	err := sqlInsertCampaignFires.exec(ctx, tx, s.dialect, len(recording), func(i int, args []any) []any {
		c := changes[recording[i]]
		f := c.CampaignFire
		return append(args, c.Workspace, f.Event, f.ContactUUID, f.Decision, f.Reason, dbTime(f.FiredOn))
	}, func(rows *sql.Rows) error {
		var key [3]string
		if err := rows.Scan(&key[0], &key[1], &key[2]); err != nil {
			return err
		}
		recorded[key] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording campaign fires: %w", err)
	}
	for _, i := range recording {
		c, f := changes[i], changes[i].CampaignFire
		if !recorded[[3]string{c.Workspace, string(f.Event), string(f.ContactUUID)}] {
			errs[i] = fmt.Errorf("campaign event %s for contact %s: %w", f.Event, f.ContactUUID, ErrConflict)
		}
	}
	return nil
}

// The groups of the contacts being written are replaced: deleted here, by UUID as a contact may be new, and inserted
// again once the contacts have IDs.
const sqlDeleteContactGroups = `
DELETE FROM contact_groups WHERE contact_id IN (SELECT id FROM contacts WHERE workspace = $1 AND uuid %s)`

var sqlUpsertContacts = &bulkInsert{
	insert:  `INSERT INTO contacts (workspace, uuid, urn, name, language, opt_status, opt_changed_on, last_inbound_on, data, created_on)`,
	columns: 10,
	suffix: ` ON CONFLICT (workspace, uuid) DO UPDATE
     SET urn = excluded.urn, name = excluded.name, language = excluded.language, opt_status = excluded.opt_status,
         opt_changed_on = excluded.opt_changed_on, last_inbound_on = excluded.last_inbound_on, data = excluded.data
RETURNING id, uuid`,
}

// Listing a group twice is harmless.
var sqlInsertContactGroups = &bulkInsert{
	insert:  `INSERT INTO contact_groups (contact_id, workspace, group_uuid)`,
	columns: 3,
	suffix:  ` ON CONFLICT DO NOTHING`,
}

// writeContacts creates or updates contacts by UUID, and replaces their groups. A contact listed twice is written as
// it is the last time, as it would be if written twice in turn.
func (s *store) writeContacts(ctx context.Context, tx *sql.Tx, workspace string, contacts []*Contact, now time.Time) error {
	if len(contacts) == 0 {
		return nil
	}

	last := make(map[flows.ContactUUID]int, len(contacts))
	for i, c := range contacts {
		last[c.UUID] = i
	}
	unique := contacts
	if len(last) < len(contacts) {
		unique = make([]*Contact, 0, len(last))
		for i, c := range contacts {
			if last[c.UUID] == i {
				unique = append(unique, c)
			}
		}
	}
	uuids := make([]flows.ContactUUID, len(unique))
	for i, c := range unique {
		uuids[i] = c.UUID
	}

	query := fmt.Sprintf(sqlDeleteContactGroups, s.dialect.in("$2"))
	if _, err := tx.ExecContext(ctx, query, workspace, listOf(s.dialect, uuids)); err != nil {
		return fmt.Errorf("deleting contact groups: %w", err)
	}

	ids := make(map[flows.ContactUUID]int64, len(unique))
	err := sqlUpsertContacts.exec(ctx, tx, s.dialect, len(unique), func(i int, args []any) []any {
		c := unique[i]
		// as a string, which i18n.Language would write as NULL when empty
		return append(args, workspace, c.UUID, c.URN, c.Name, string(c.Language), c.OptStatus, dbTime(c.OptChangedOn),
			dbTime(c.LastInboundOn), dbJSON(c.Data), dbTime(now))
	}, func(rows *sql.Rows) error {
		var id int64
		var uuid flows.ContactUUID
		if err := rows.Scan(&id, &uuid); err != nil {
			return err
		}
		ids[uuid] = id
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing contacts: %w", err)
	}

	type membership struct {
		contact int64
		group   string
	}
	var memberships []membership
	for _, c := range unique {
		for _, g := range c.Groups {
			memberships = append(memberships, membership{ids[c.UUID], string(g)})
		}
	}
	err = sqlInsertContactGroups.exec(ctx, tx, s.dialect, len(memberships), func(i int, args []any) []any {
		return append(args, memberships[i].contact, workspace, memberships[i].group)
	}, nil)
	if err != nil {
		return fmt.Errorf("writing contact groups: %w", err)
	}
	return nil
}

// A batch never holds two changes of one contact, so one statement upserts each contact's session at most once.
var sqlUpsertSessions = &bulkInsert{
	insert:  `INSERT INTO sessions (workspace, contact_uuid, uuid, data, expires_on)`,
	columns: 5,
	suffix:  ` ON CONFLICT (workspace, contact_uuid) DO UPDATE SET uuid = excluded.uuid, data = excluded.data, expires_on = excluded.expires_on`,
}

const sqlDeleteSessions = `DELETE FROM sessions WHERE workspace = $1 AND contact_uuid %s`

// writeSessions writes the sessions that the workspace's changes keep waiting, and ends those they end.
func (s *store) writeSessions(ctx context.Context, tx *sql.Tx, workspace string, changes []*Change, errs []error) error {
	var keeping []*Session
	var ending []flows.ContactUUID
	for i, c := range changes {
		if errs[i] != nil || c.Workspace != workspace {
			continue
		}
		if c.Session != nil {
			keeping = append(keeping, c.Session)
		}
		for _, uuid := range c.EndSessions {
			if c.Session == nil || uuid != c.Session.ContactUUID {
				ending = append(ending, uuid)
			}
		}
	}
	err := sqlUpsertSessions.exec(ctx, tx, s.dialect, len(keeping), func(i int, args []any) []any {
		ss := keeping[i]
		return append(args, workspace, ss.ContactUUID, ss.UUID, dbJSON(ss.Data), dbTime(ss.ExpiresOn))
	}, nil)
	if err != nil {
		return fmt.Errorf("writing sessions: %w", err)
	}
	if len(ending) > 0 {
		query := fmt.Sprintf(sqlDeleteSessions, s.dialect.in("$2"))
		if _, err := tx.ExecContext(ctx, query, workspace, listOf(s.dialect, ending)); err != nil {
			return fmt.Errorf("ending sessions: %w", err)
		}
	}
	return nil
}
