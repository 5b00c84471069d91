package store

import (
	"context"
	"database/sql"
	"fmt"
)

var sqlInsertOutbox = &bulkInsert{
	insert:  `INSERT INTO outbox (workspace, contact_uuid, urn, channel_uuid, text, template, source, broadcast_id, created_on)`,
	columns: 9,
}

// insertOutbox queues messages to send in the workspace.
func (s *store) insertOutbox(ctx context.Context, tx *sql.Tx, workspace string, msgs []*OutgoingMsg) error {
	err := sqlInsertOutbox.exec(ctx, tx, s.dialect, len(msgs), func(i int, args []any) []any {
		m := msgs[i]
		return append(args, workspace, m.ContactUUID, m.URN, m.Channel, m.Text, m.Template, m.Source, m.BroadcastID,
			dbTime(m.CreatedOn))
	}, nil)
	if err != nil {
		return fmt.Errorf("writing outbox: %w", err)
	}
	return nil
}

const sqlSelectOutbox = `
  SELECT id, workspace, contact_uuid, urn, channel_uuid, text, template, source, broadcast_id, created_on
    FROM outbox
   WHERE workspace = $1 AND id > $2
ORDER BY id
   LIMIT $3`

func (s *store) Outbox(ctx context.Context, workspace string, after int64, limit int) ([]*OutgoingMsg, error) {
	msgs, err := queryRows(ctx, s.db, func(row rowScanner) (*OutgoingMsg, error) {
		m := &OutgoingMsg{}
		return m, row.Scan(&m.ID, &m.Workspace, &m.ContactUUID, &m.URN, &m.Channel, &m.Text, &m.Template, &m.Source,
			&m.BroadcastID, scanTime(&m.CreatedOn))
	}, sqlSelectOutbox, workspace, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	return msgs, nil
}
