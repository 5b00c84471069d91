package store

import (
	"context"
	"database/sql"
	"fmt"
)

var sqlInsertOutbox = &bulkInsert{
	insert:  `INSERT INTO outbox (workspace, contact_uuid, urn, channel_uuid, text, template, source, broadcast_id, created_on, status, category, language, components)`,
	columns: 13,
}

// Whether the workspace is connected to WhatsApp is read in the transaction that queues, so that a message is queued
// for the sender exactly when the workspace has one to send it through.
const sqlSelectWorkspaceConnected = `SELECT whatsapp IS NOT NULL FROM workspaces WHERE id = $1`

// outboxStatus is the status of the messages queued in the workspace: queued for the sender in a workspace connected
// to WhatsApp, and unsent in one that isn't, whose messages the API's caller sends, as it always did.
func (s *store) outboxStatus(ctx context.Context, tx *sql.Tx, workspace string) (OutboxStatus, error) {
	var connected bool
	if err := tx.QueryRowContext(ctx, sqlSelectWorkspaceConnected, workspace).Scan(&connected); err != nil {
		return "", fmt.Errorf("writing outbox: reading the workspace: %w", err)
	}
	if connected {
		return OutboxQueued, nil
	}
	return OutboxUnsent, nil
}

// insertOutbox queues messages to send in the workspace, in the workspace's outboxStatus.
func (s *store) insertOutbox(ctx context.Context, tx *sql.Tx, workspace string, msgs []*OutgoingMsg) error {
	if len(msgs) == 0 {
		return nil
	}
	status, err := s.outboxStatus(ctx, tx, workspace)
	if err != nil {
		return err
	}
	err = sqlInsertOutbox.exec(ctx, tx, s.dialect, len(msgs), func(i int, args []any) []any {
		m := msgs[i]
		return append(args, workspace, m.ContactUUID, m.URN, m.Channel, m.Text, m.Template, m.Source, m.BroadcastID,
			dbTime(m.CreatedOn), status, m.Category, m.Language, dbJSON(m.Components))
	}, nil)
	if err != nil {
		return fmt.Errorf("writing outbox: %w", err)
	}
	return nil
}

// outboxColumns are the columns an OutgoingMsg is read from, unqualified, as RETURNING has them.
const outboxColumns = `id, workspace, contact_uuid, urn, channel_uuid, text, template, source, broadcast_id, created_on,
       category, language, components, status, attempts, deferrals, next_attempt, wamid, reason, last_error, updated_on`

func scanOutgoingMsg(row rowScanner) (*OutgoingMsg, error) {
	m := &OutgoingMsg{}
	return m, row.Scan(&m.ID, &m.Workspace, &m.ContactUUID, &m.URN, &m.Channel, &m.Text, &m.Template, &m.Source,
		&m.BroadcastID, scanTime(&m.CreatedOn), &m.Category, &m.Language, scanJSON(&m.Components), &m.Status,
		&m.Attempts, &m.Deferrals, scanTime(&m.NextAttempt), &m.WAMID, &m.Reason, &m.LastError, scanTime(&m.UpdatedOn))
}

const sqlSelectOutbox = `
  SELECT ` + outboxColumns + `
    FROM outbox
   WHERE workspace = $1 AND id > $2
ORDER BY id
   LIMIT $3`

func (s *store) Outbox(ctx context.Context, workspace string, after int64, limit int) ([]*OutgoingMsg, error) {
	msgs, err := queryRows(ctx, s.db, scanOutgoingMsg, sqlSelectOutbox, workspace, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	return msgs, nil
}
