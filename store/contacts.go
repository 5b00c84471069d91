package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/consent"
)

// contactColumns are the columns a Contact is read from, c being the contacts table. Its groups come in the same row,
// aggregated by a subquery on contact_groups' primary key, so that reading a page of contacts is one query.
const contactColumns = `c.id, c.uuid, c.urn, c.name, c.language, c.opt_status, c.opt_changed_on, c.last_inbound_on, c.data, c.created_on,
       (SELECT string_agg(g.group_uuid, ',' ORDER BY g.group_uuid) FROM contact_groups g WHERE g.contact_id = c.id)`

// contactRow is a row of contactColumns as it is scanned: the columns that can't be NULL in a contact are NULL in a
// LEFT JOIN that found none.
type contactRow struct {
	id                                sql.Null[int64]
	uuid, urn, name, language, status sql.Null[string]
	c                                 Contact
}

func (r *contactRow) dests() []any {
	return []any{&r.id, &r.uuid, &r.urn, &r.name, &r.language, &r.status, scanTime(&r.c.OptChangedOn),
		scanTime(&r.c.LastInboundOn), scanJSON(&r.c.Data), scanTime(&r.c.CreatedOn), scanStrings(&r.c.Groups)}
}

// contact is the contact scanned, nil for none. Its groups are sorted by UUID.
func (r *contactRow) contact() *Contact {
	if !r.id.Valid {
		return nil
	}
	c := &r.c
	c.ID, c.UUID, c.URN, c.Name = r.id.V, flows.ContactUUID(r.uuid.V), urns.URN(r.urn.V), r.name.V
	c.Language, c.OptStatus = i18n.Language(r.language.V), consent.Status(r.status.V)
	return c
}

// scanContact reads a contact from contactColumns.
func scanContact(row rowScanner) (*Contact, error) {
	var r contactRow
	if err := row.Scan(r.dests()...); err != nil {
		return nil, err
	}
	return r.contact(), nil
}

const sqlSelectContactByURN = `SELECT ` + contactColumns + ` FROM contacts c WHERE c.workspace = $1 AND c.urn = $2`

func (s *store) ContactByURN(ctx context.Context, workspace string, urn urns.URN) (*Contact, error) {
	c, err := scanContact(s.db.QueryRowContext(ctx, sqlSelectContactByURN, workspace, urn))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("contact %s: %w", urn, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading contact %s: %w", urn, err)
	}
	return c, nil
}

const sqlSelectContactsByURN = `SELECT ` + contactColumns + ` FROM contacts c WHERE c.workspace = $1 AND c.urn %s ORDER BY c.id`

// ContactsByURN returns the contacts by ID.
func (s *store) ContactsByURN(ctx context.Context, workspace string, list []urns.URN) ([]*Contact, error) {
	if len(list) == 0 {
		return nil, nil
	}
	query := fmt.Sprintf(sqlSelectContactsByURN, s.dialect.in("$2"))
	contacts, err := queryRows(ctx, s.db, scanContact, query, workspace, listOf(s.dialect, list))
	if err != nil {
		return nil, fmt.Errorf("reading contacts by URN: %w", err)
	}
	return contacts, nil
}

// The keyset is on both sides of the join: with it on the memberships only, a planner may merge-join them with the
// contacts read from the first one, for every batch, which made a group's broadcast quadratic in its size.
const sqlSelectGroupContacts = `
  SELECT ` + contactColumns + `
    FROM contact_groups m
    JOIN contacts c ON c.id = m.contact_id
   WHERE m.workspace = $1 AND m.group_uuid = $2 AND m.contact_id > $3 AND c.id > $3
ORDER BY m.contact_id
   LIMIT $4`

func (s *store) GroupContacts(ctx context.Context, workspace string, group assets.GroupUUID, after int64, limit int) ([]*Contact, error) {
	contacts, err := queryRows(ctx, s.db, scanContact, sqlSelectGroupContacts, workspace, group, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading contacts of group %s: %w", group, err)
	}
	return contacts, nil
}

// A group's recipients are read without the contacts' documents and groups, which deciding a broadcast doesn't need:
// reading them was most of a broadcast's time. The keyset is on both sides of the join, as GroupContacts has it.
const sqlSelectGroupRecipients = `
  SELECT c.id, c.uuid, c.urn, c.opt_status, c.last_inbound_on
    FROM contact_groups m
    JOIN contacts c ON c.id = m.contact_id
   WHERE m.workspace = $1 AND m.group_uuid = $2 AND m.contact_id > $3 AND c.id > $3
ORDER BY m.contact_id
   LIMIT $4`

func (s *store) GroupRecipients(ctx context.Context, workspace string, group assets.GroupUUID, after int64, limit int) ([]Recipient, error) {
	recipients, err := queryRows(ctx, s.db, func(row rowScanner) (Recipient, error) {
		var r Recipient
		return r, row.Scan(&r.ID, &r.UUID, &r.URN, &r.OptStatus, scanTime(&r.LastInboundOn))
	}, sqlSelectGroupRecipients, workspace, group, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading recipients of group %s: %w", group, err)
	}
	return recipients, nil
}

const sqlSelectOptedOut = `
  SELECT ` + contactColumns + `
    FROM contacts c
   WHERE c.workspace = $1 AND c.opt_status = $2 AND c.id > $3
ORDER BY c.id
   LIMIT $4`

func (s *store) OptedOut(ctx context.Context, workspace string, after int64, limit int) ([]*Contact, error) {
	contacts, err := queryRows(ctx, s.db, scanContact, sqlSelectOptedOut, workspace, consent.OptedOut, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading opted-out contacts: %w", err)
	}
	return contacts, nil
}

const sqlSelectSession = `SELECT uuid, contact_uuid, data, expires_on FROM sessions WHERE workspace = $1 AND contact_uuid = $2`

func (s *store) WaitingSession(ctx context.Context, workspace string, contact flows.ContactUUID) (*Session, error) {
	ss := &Session{}
	err := s.db.QueryRowContext(ctx, sqlSelectSession, workspace, contact).Scan(&ss.UUID, &ss.ContactUUID, scanJSON(&ss.Data), scanTime(&ss.ExpiresOn))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session of contact %s: %w", contact, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading session of contact %s: %w", contact, err)
	}
	return ss, nil
}

// Both joins are on unique keys, so the query has one row, whether or not either finds anything. A message recorded
// without an answer (one of WhatsApp's notifications) reads as the JSON null, which tells it from none recorded.
const sqlSelectMessageContact = `
SELECT CASE WHEN p.msg_uuid IS NOT NULL THEN COALESCE(p.response, 'null') END, ` + contactColumns + `
  FROM (SELECT 1) AS one
  LEFT JOIN processed_messages p ON p.workspace = $1 AND p.msg_uuid = $3
  LEFT JOIN contacts c ON c.workspace = $1 AND c.urn = $2`

func (s *store) MessageContact(ctx context.Context, workspace string, urn urns.URN, msg flows.InputUUID) (*Contact, json.RawMessage, error) {
	var answer json.RawMessage
	var r contactRow
	err := s.db.QueryRowContext(ctx, sqlSelectMessageContact, workspace, urn, msg).Scan(append([]any{scanJSON(&answer)}, r.dests()...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading message %s and contact %s: %w", msg, urn, err)
	}
	if answer != nil {
		return nil, answer, nil
	}
	return r.contact(), nil, nil
}

const sqlSelectProcessedMessage = `SELECT response FROM processed_messages WHERE workspace = $1 AND msg_uuid = $2`

func (s *store) ProcessedMessage(ctx context.Context, workspace string, msg flows.InputUUID) (json.RawMessage, error) {
	var response json.RawMessage
	err := s.db.QueryRowContext(ctx, sqlSelectProcessedMessage, workspace, msg).Scan(scanJSON(&response))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("message %s: %w", msg, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading message %s: %w", msg, err)
	}
	return response, nil
}

const sqlSelectCampaignFired = `SELECT contact_uuid FROM campaign_fires WHERE workspace = $1 AND event_uuid = $2 AND contact_uuid %s`

// CampaignFired returns a map with an entry only for the contacts it fired for.
func (s *store) CampaignFired(ctx context.Context, workspace string, event assets.CampaignPointUUID, contacts []flows.ContactUUID) (map[flows.ContactUUID]bool, error) {
	fired := make(map[flows.ContactUUID]bool)
	if len(contacts) == 0 {
		return fired, nil
	}
	query := fmt.Sprintf(sqlSelectCampaignFired, s.dialect.in("$3"))
	uuids, err := queryRows(ctx, s.db, scanString, query, workspace, event, listOf(s.dialect, contacts))
	if err != nil {
		return nil, fmt.Errorf("reading fires of campaign event %s: %w", event, err)
	}
	for _, uuid := range uuids {
		fired[flows.ContactUUID(uuid)] = true
	}
	return fired, nil
}

const sqlSelectGroupCounts = `
  SELECT group_uuid, COUNT(*) FROM contact_groups WHERE workspace = $1 GROUP BY group_uuid`

func (s *store) GroupCounts(ctx context.Context, workspace string) (map[assets.GroupUUID]int, error) {
	counts := map[assets.GroupUUID]int{}
	_, err := queryRows(ctx, s.db, func(row rowScanner) (struct{}, error) {
		var group assets.GroupUUID
		var n int
		err := row.Scan(&group, &n)
		counts[group] = n
		return struct{}{}, err
	}, sqlSelectGroupCounts, workspace)
	if err != nil {
		return nil, fmt.Errorf("counting group members: %w", err)
	}
	return counts, nil
}
