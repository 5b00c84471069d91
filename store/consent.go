package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/nyaruka/gocommon/urns"
)

var sqlInsertConsentEvents = &bulkInsert{
	insert:  `INSERT INTO consent_events (workspace, contact_uuid, urn, status_before, status_after, keyword, language, msg_uuid, channel_uuid, source, occurred_on)`,
	columns: 11,
}

func (s *store) insertConsentEvents(ctx context.Context, tx *sql.Tx, workspace string, events []*ConsentEvent) error {
	err := sqlInsertConsentEvents.exec(ctx, tx, s.dialect, len(events), func(i int, args []any) []any {
		e := events[i]
		return append(args, workspace, e.ContactUUID, e.URN, e.Before, e.After, e.Keyword, string(e.Language), e.MsgUUID, e.Channel,
			e.Source, dbTime(e.OccurredOn))
	}, nil)
	if err != nil {
		return fmt.Errorf("writing consent events: %w", err)
	}
	return nil
}

const (
	sqlSelectConsentEvents = `
  SELECT id, contact_uuid, urn, status_before, status_after, keyword, language, msg_uuid, channel_uuid, source, occurred_on
    FROM consent_events
   WHERE workspace = $1 AND id > $2
ORDER BY id
   LIMIT $3`

	sqlSelectConsentEventsOfURN = `
  SELECT id, contact_uuid, urn, status_before, status_after, keyword, language, msg_uuid, channel_uuid, source, occurred_on
    FROM consent_events
   WHERE workspace = $1 AND urn = $4 AND id > $2
ORDER BY id
   LIMIT $3`
)

func (s *store) ConsentEvents(ctx context.Context, workspace string, urn urns.URN, after int64, limit int) ([]*ConsentEvent, error) {
	query, args := sqlSelectConsentEvents, []any{workspace, after, limit}
	if urn != "" {
		query, args = sqlSelectConsentEventsOfURN, append(args, urn)
	}
	events, err := queryRows(ctx, s.db, func(row rowScanner) (*ConsentEvent, error) {
		e := &ConsentEvent{}
		return e, row.Scan(&e.ID, &e.ContactUUID, &e.URN, &e.Before, &e.After, &e.Keyword, &e.Language, &e.MsgUUID,
			&e.Channel, &e.Source, scanTime(&e.OccurredOn))
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading consent events: %w", err)
	}
	return events, nil
}
