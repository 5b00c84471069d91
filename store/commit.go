package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/nyaruka/goflow/flows"
)

// A message or a campaign fire is recorded with ON CONFLICT DO NOTHING, so that one already recorded writes no row and
// the change is rolled back, and two changes for the same one racing each other can't both commit: the second waits
// on the first's row in the unique key and finds it there.
const (
	sqlInsertProcessedMessage = `
INSERT INTO processed_messages (workspace, msg_uuid, response, created_on) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING`

	sqlInsertCampaignFire = `
INSERT INTO campaign_fires (workspace, event_uuid, contact_uuid, decision, reason, fired_on) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING`
)

// Commit writes everything under the change's workspace, whatever the Workspace of its webhook events and outgoing
// messages says. IDs and sequence numbers are assigned in the database, and not set on the change.
func (s *store) Commit(ctx context.Context, c *Change) error {
	now := c.At
	if now.IsZero() {
		now = time.Now()
	}

	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if c.Message != nil {
			n, err := execCount(ctx, tx, sqlInsertProcessedMessage, c.Workspace, c.Message.UUID, dbJSON(c.Message.Response), dbTime(now))
			if err != nil {
				return fmt.Errorf("recording message: %w", err)
			}
			if n == 0 {
				return fmt.Errorf("message %s: %w", c.Message.UUID, ErrConflict)
			}
		}
		if f := c.CampaignFire; f != nil {
			n, err := execCount(ctx, tx, sqlInsertCampaignFire, c.Workspace, f.Event, f.ContactUUID, f.Decision, f.Reason, dbTime(f.FiredOn))
			if err != nil {
				return fmt.Errorf("recording campaign fire: %w", err)
			}
			if n == 0 {
				return fmt.Errorf("campaign event %s for contact %s: %w", f.Event, f.ContactUUID, ErrConflict)
			}
		}

		if err := s.writeContacts(ctx, tx, c.Workspace, c.Contacts, now); err != nil {
			return err
		}
		if err := s.writeSession(ctx, tx, c); err != nil {
			return err
		}
		if err := s.insertConsentEvents(ctx, tx, c.Workspace, c.Consent); err != nil {
			return err
		}
		if err := s.insertWebhookEvents(ctx, tx, c.Workspace, c.Webhooks, now); err != nil {
			return err
		}
		return s.insertOutbox(ctx, tx, c.Workspace, c.Outbox)
	})
	if err != nil {
		return fmt.Errorf("committing change: %w", err)
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

const (
	sqlUpsertSession = `
INSERT INTO sessions (workspace, contact_uuid, uuid, data, expires_on) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (workspace, contact_uuid) DO UPDATE SET uuid = excluded.uuid, data = excluded.data, expires_on = excluded.expires_on`

	sqlDeleteSessions = `DELETE FROM sessions WHERE workspace = $1 AND contact_uuid %s`
)

func (s *store) writeSession(ctx context.Context, tx *sql.Tx, c *Change) error {
	if ss := c.Session; ss != nil {
		if _, err := tx.ExecContext(ctx, sqlUpsertSession, c.Workspace, ss.ContactUUID, ss.UUID, dbJSON(ss.Data), dbTime(ss.ExpiresOn)); err != nil {
			return fmt.Errorf("writing session: %w", err)
		}
	}
	ending := c.EndSessions
	if c.Session != nil && slices.Contains(ending, c.Session.ContactUUID) {
		ending = slices.DeleteFunc(slices.Clone(ending), func(u flows.ContactUUID) bool { return u == c.Session.ContactUUID })
	}
	if len(ending) > 0 {
		query := fmt.Sprintf(sqlDeleteSessions, s.dialect.in("$2"))
		if _, err := tx.ExecContext(ctx, query, c.Workspace, listOf(s.dialect, ending)); err != nil {
			return fmt.Errorf("ending sessions: %w", err)
		}
	}
	return nil
}
