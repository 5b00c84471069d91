package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// bulkInsert is a multi-row INSERT: insert is the statement up to VALUES, columns how many values a row has, and
// suffix what follows the rows, such as ON CONFLICT or RETURNING.
type bulkInsert struct {
	insert  string
	columns int
	suffix  string
}

// exec inserts n rows, whose values row appends to args for row i, with as few statements as the dialect's limit on
// parameters allows: a change of a hundred thousand contacts is a few dozen statements rather than a hundred thousand
// round trips. Rows are inserted in order, so identities are assigned in the order of the rows. If scan isn't nil,
// the statement ends with RETURNING and scan reads each row it returns.
func (b *bulkInsert) exec(ctx context.Context, tx *sql.Tx, d *dialect, n int, row func(i int, args []any) []any, scan func(rows *sql.Rows) error) error {
	perStatement := d.maxParams / b.columns

	for start := 0; start < n; start += perStatement {
		end := min(start+perStatement, n)
		query, args := b.statement(d, start, end, row)

		if scan == nil {
			if _, err := tx.ExecContext(ctx, query, args...); err != nil {
				return err
			}
			continue
		}

		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// statement is the INSERT of rows start to end.
func (b *bulkInsert) statement(d *dialect, start, end int, row func(i int, args []any) []any) (string, []any) {
	var q strings.Builder
	q.Grow(len(b.insert) + len(b.suffix) + (end-start)*b.columns*8)
	q.WriteString(b.insert)
	q.WriteString(" VALUES ")

	args := make([]any, 0, (end-start)*b.columns)
	for i := start; i < end; i++ {
		if i > start {
			q.WriteByte(',')
		}
		q.WriteByte('(')
		for c := range b.columns {
			if c > 0 {
				q.WriteByte(',')
			}
			q.WriteString(d.bulkParam(len(args) + c + 1))
		}
		q.WriteByte(')')

		args = row(i, args)
	}
	q.WriteString(b.suffix)
	return q.String(), args
}

// jsonRows is n rows, whose items row gives for row i, as the one parameter of a statement that reads the dialect's
// rows.
func jsonRows(n int, row func(i int) []any) (string, error) {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = row(i)
	}
	doc, err := json.Marshal(rows)
	if err != nil {
		return "", fmt.Errorf("encoding rows: %w", err)
	}
	return string(doc), nil
}

// fromRows is the statement with the dialect's rows of the parameter param as its FROM item %s.
func (d *dialect) fromRows(statement, param string) string {
	return fmt.Sprintf(statement, fmt.Sprintf(d.rows, param))
}
