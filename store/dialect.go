package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is what differs between the two databases the store runs on. Everything else, every query included, is the
// same SQL text for both, written in what they share: $1 placeholders, ON CONFLICT and RETURNING.
type dialect struct {
	name   string
	driver string

	// migrations are the versions of the schema, in order: migrations[0] is version 1.
	migrations []string

	// lockMigrations starts the transaction that migrates, to keep instances that start at once from migrating at
	// once; empty where beginning a write transaction already excludes every other writer.
	lockMigrations string

	// maxParams is how many parameters one statement takes, which sizes multi-row inserts, and bulkParam the
	// placeholder of their nth parameter.
	maxParams int
	bulkParam func(n int) string

	// skipLocked ends the queries that pick WhatsApp inbox items and outbox messages to claim, so that concurrent
	// claimers pass over the rows another is claiming rather than wait for them and claim them again.
	skipLocked string

	// inOrder makes the rest of a transaction read rows in the order of an index that has it rather than read them
	// all and sort them, for a query that wants the first few; empty where the planner already does. PostgreSQL,
	// thinking few events pending because its statistics predate a burst of them, read every pending event and sorted
	// them for the first page of a claim, and so read the whole backlog for each.
	inOrder string

	// inList is the condition that a value is one of a list passed as the one parameter %s, made by list: a query
	// then has the same text and the same single parameter however long the list is.
	inList string
	list   func(values []string) any

	// rows is a FROM item that reads the one parameter %s, a JSON array of arrays made by jsonRows, as rows r: r.key
	// is an array's index, from 0, and r.value the array, whose items r.value->>i reads as text. A statement that
	// inserts from it has one text and one parameter however many rows it inserts, which the database parses once:
	// parsing and binding multi-row VALUES, a dozen parameters a row, was most of the time a broadcast took to queue.
	rows string

	// lockContact and unlockContact take and release a contact's lock, keyed by $1, on a connection of its own, so
	// that other processes see it; empty where one process owns the database and an in-process lock is enough.
	lockContact, unlockContact string

	// unavailable tells whether an error of the dialect's driver means the database can't be reached for now.
	unavailable func(error) bool

	// violates tells whether an error of the dialect's driver is a write that the unique index named would have made
	// hold a value twice.
	violates func(err error, index string) bool
}

// PostgreSQL's error codes (SQLSTATE) that the store tells apart.
const (
	pgUniqueViolation          = "23505"
	pgTooManyConnections       = "53300"
	pgQueryCanceled            = "57014"
	pgAdminShutdown            = "57P01"
	pgCrashShutdown            = "57P02"
	pgCannotConnectNow         = "57P03"
	pgClassConnectionException = "08"
)

var postgresDialect = &dialect{
	name:       "postgres",
	driver:     "pgx",
	migrations: schemaVersions("postgres"),

	// a transaction-level advisory lock is released by the commit that ends the migrations, and keying it by schema
	// lets databases in different schemas of one server migrate independently
	lockMigrations: `SELECT pg_advisory_xact_lock(hashtextextended('optout migrations ' || current_schema(), 0))`,

	maxParams:  65535,
	bulkParam:  func(n int) string { return "$" + strconv.Itoa(n) },
	skipLocked: ` FOR UPDATE OF e SKIP LOCKED`,
	inOrder:    `SET LOCAL enable_sort = off`,
	inList:     `= ANY(%s)`,
	rows:       `(SELECT e.n - 1 AS key, e.value FROM jsonb_array_elements(CAST(%s AS JSONB)) WITH ORDINALITY AS e(value, n)) AS r`,
	list:       func(values []string) any { return values },

	// advisory locks are the database's, so keying them by schema keeps stores in different schemas apart
	lockContact:   `SELECT pg_advisory_lock(hashtextextended(current_schema() || ' ' || $1, 0))`,
	unlockContact: `SELECT pg_advisory_unlock(hashtextextended(current_schema() || ' ' || $1, 0))`,

	unavailable: func(err error) bool {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) {
			return false
		}
		switch pgErr.Code {
		case pgAdminShutdown, pgCrashShutdown, pgCannotConnectNow, pgTooManyConnections, pgQueryCanceled:
			return true
		}
		return strings.HasPrefix(pgErr.Code, pgClassConnectionException)
	},

	violates: func(err error, index string) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation && pgErr.ConstraintName == index
	},
}

var sqliteDialect = &dialect{
	name:       "sqlite",
	driver:     "sqlite",
	migrations: schemaVersions("sqlite"),

	// migrations run in an immediate transaction, which holds the database's write lock from its start
	lockMigrations: "",

	// SQLITE_MAX_VARIABLE_NUMBER, as modernc.org/sqlite builds it; and anonymous placeholders, since SQLite looks
	// numbered ones up in a list, by name when it prepares a statement and by number when the driver binds it, which
	// is quadratic in their number: committing a hundred thousand contacts took 110 s with $n, and 2.5 s with ?
	maxParams: 32766,
	bulkParam: func(int) string { return "?" },

	// writers are serialized, so one claim can't see rows that another is claiming
	skipLocked: "",

	// json_each rather than an IN list of placeholders: the query has one text and one parameter for every size of
	// list, so a batch is never split to fit the limit on parameters, nor slowed by the lookup of numbered ones
	inList: `IN (SELECT value FROM json_each(%s))`,
	rows:   `json_each(%s) AS r`,
	list: func(values []string) any {
		list, _ := json.Marshal(values) // strings always marshal
		return string(list)
	},

	unavailable: func(err error) bool {
		var sqliteErr *sqlite.Error
		if !errors.As(err, &sqliteErr) {
			return false
		}
		// "database is locked" when the busy timeout passed waiting for another connection's write lock
		switch sqliteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	},

	// SQLite names the columns of the index it would break, not the index
	violates: func(err error, index string) bool {
		var sqliteErr *sqlite.Error
		return errors.As(err, &sqliteErr) && sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE &&
			strings.Contains(sqliteErr.Error(), sqliteUniqueColumns[index])
	},
}

// sqliteUniqueColumns are the columns of each unique index, as SQLite names them when a write breaks it.
var sqliteUniqueColumns = map[string]string{"workspaces_token_hash": "workspaces.token_hash"}

// in is the condition that a value is one of the list passed as the parameter param, which listOf makes.
func (d *dialect) in(param string) string {
	return fmt.Sprintf(d.inList, param)
}

// listOf is a list of strings as the dialect passes it in one parameter.
func listOf[T ~string](d *dialect, items []T) any {
	values := make([]string, len(items))
	for i, item := range items {
		values[i] = string(item)
	}
	return d.list(values)
}
