package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// pruneBatch is how many rows a statement of Prune deletes at most, so that each is a short transaction.
const pruneBatch = 5000

// prunes are the tables Prune deletes from without dependents: the rows the subquery selects of those done before
// $1, by the table's key, at most $2 at a time.
var prunes = []struct {
	table, key, selected string
	before               func(Retention) time.Time
}{
	{"processed_messages", "(workspace, msg_uuid)", "SELECT workspace, msg_uuid FROM processed_messages WHERE created_on < $1 LIMIT $2",
		func(r Retention) time.Time { return r.Answers }},
	// every state a message doesn't leave: sent, or not to be sent (unsent ones are of a workspace that wasn't
	// connected to WhatsApp when they were queued, and never are)
	{"outbox", "id", "SELECT id FROM outbox WHERE status IN ('sent', 'delivered', 'read', 'skipped', 'failed', 'unsent') AND COALESCE(updated_on, created_on) < $1 LIMIT $2",
		func(r Retention) time.Time { return r.Delivered }},
	{"whatsapp_inbox", "id", "SELECT id FROM whatsapp_inbox WHERE status <> 'pending' AND received_on < $1 LIMIT $2",
		func(r Retention) time.Time { return r.Inbox }},
}

const (
	sqlSelectDeliveredWebhooks = `SELECT seq FROM webhook_events WHERE status = 'delivered' AND delivered_on < $1 LIMIT $2`
	sqlDeleteWebhookAttempts   = `DELETE FROM webhook_attempts WHERE event_seq %s`
	sqlDeleteWebhookEvents     = `DELETE FROM webhook_events WHERE seq %s`
)

func (s *store) Prune(ctx context.Context, r Retention) (map[string]int64, error) {
	pruned := map[string]int64{}
	for _, p := range prunes {
		before := p.before(r)
		if before.IsZero() {
			continue
		}
		query := fmt.Sprintf("DELETE FROM %s WHERE %s IN (%s)", p.table, p.key, p.selected)
		for {
			n, err := execCount(ctx, s.db, query, dbTime(before), pruneBatch)
			if err != nil {
				return pruned, fmt.Errorf("pruning %s: %w", p.table, err)
			}
			pruned[p.table] += n
			if n < pruneBatch {
				break
			}
		}
	}
	if !r.Delivered.IsZero() {
		for {
			events, attempts, err := s.pruneWebhooks(ctx, r.Delivered)
			if err != nil {
				return pruned, fmt.Errorf("pruning webhook_events: %w", err)
			}
			pruned["webhook_events"] += events
			pruned["webhook_attempts"] += attempts
			if events < pruneBatch {
				break
			}
		}
	}
	return pruned, nil
}

// pruneWebhooks deletes a batch of delivered events with their attempts, which reference them.
func (s *store) pruneWebhooks(ctx context.Context, before time.Time) (int64, int64, error) {
	var events, attempts int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		seqs, err := queryRows(ctx, tx, func(row rowScanner) (string, error) {
			var seq int64
			err := row.Scan(&seq)
			return strconv.FormatInt(seq, 10), err
		}, sqlSelectDeliveredWebhooks, dbTime(before), pruneBatch)
		if err != nil || len(seqs) == 0 {
			return err
		}
		if attempts, err = execCount(ctx, tx, fmt.Sprintf(sqlDeleteWebhookAttempts, s.dialect.in("$1")), listOf(s.dialect, seqs)); err != nil {
			return err
		}
		events, err = execCount(ctx, tx, fmt.Sprintf(sqlDeleteWebhookEvents, s.dialect.in("$1")), listOf(s.dialect, seqs))
		return err
	})
	return events, attempts, err
}
