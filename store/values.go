package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// dbTime is a time as the store keeps it: unix microseconds, or NULL for the zero time, which means never. Times
// read back are in UTC and lose what they had below the microsecond.
func dbTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// timeValue scans a time kept by dbTime.
type timeValue struct{ t *time.Time }

func scanTime(t *time.Time) sql.Scanner { return timeValue{t} }

func (v timeValue) Scan(src any) error {
	switch src := src.(type) {
	case nil:
		*v.t = time.Time{}
	case int64:
		*v.t = time.UnixMicro(src).UTC()
	default:
		return fmt.Errorf("can't scan %T as a time", src)
	}
	return nil
}

// dbJSON is a JSON document as the store passes it: as text, which both JSONB and TEXT columns read, where the
// bytes of a []byte would go to PostgreSQL as a bytea literal, and NULL for no document.
func dbJSON(doc json.RawMessage) any {
	if len(doc) == 0 {
		return nil
	}
	return string(doc)
}

// scanJSON scans a JSON document, which drivers return as text or as bytes, nil for NULL.
func scanJSON(doc *json.RawMessage) *[]byte { return (*[]byte)(doc) }

// stringsValue scans a list of strings that the query aggregated into one, separated by commas, empty for NULL.
type stringsValue[T ~string] struct{ list *[]T }

func scanStrings[T ~string](list *[]T) sql.Scanner { return stringsValue[T]{list} }

func (v stringsValue[T]) Scan(src any) error {
	var joined string
	switch src := src.(type) {
	case nil:
	case string:
		joined = src
	case []byte:
		joined = string(src)
	default:
		return fmt.Errorf("can't scan %T as a list", src)
	}

	*v.list = nil
	if joined != "" {
		for _, item := range strings.Split(joined, ",") {
			*v.list = append(*v.list, T(item))
		}
	}
	return nil
}

// rowScanner is what *sql.Row and *sql.Rows have in common, so that one function scans a type from either.
type rowScanner interface {
	Scan(dest ...any) error
}

// querier is what *sql.DB and *sql.Tx have in common for queries.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryRows runs a query and reads each row it returns with scan.
func queryRows[T any](ctx context.Context, db querier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()

	var items []T
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return items, rows.Err()
}

// scanString reads a row of one string.
func scanString(row rowScanner) (string, error) {
	var s string
	return s, row.Scan(&s)
}

// execer is what *sql.DB and *sql.Tx have in common for statements that return no rows.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// execCount runs a statement and returns how many rows it wrote.
func execCount(ctx context.Context, db execer, query string, args ...any) (int64, error) {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
