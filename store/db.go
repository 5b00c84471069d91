package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the postgres driver
	_ "modernc.org/sqlite"             // the sqlite driver
)

// Pool limits for PostgreSQL, per instance. A burst of requests queues for a connection of the pool rather than opening
// connections until the server refuses them: at its default max_connections of 100, several instances fit with their
// locks' connections and room for an administrator.
const (
	postgresMaxConns = 20

	// what a burst opened is closed when it's over
	postgresMaxIdleTime = 5 * time.Minute

	// connections move on to a restarted or failed-over server, and through a pooler's rebalancing, rather than stay
	// where they were opened forever
	postgresMaxLifetime = 30 * time.Minute

	// Each contact lock held keeps a connection, from a pool of its own so that handlers holding locks can never take
	// the connections their own queries wait for.
	postgresMaxLockConns = 10

	// batches of changes committing at once (see groupCommitter): one, which makes the batches bigger, was the
	// fastest at concurrency 16 on two cores (1038 and 967 msg/s, against 853 and 730 with two and 795 and 641
	// with four, same run)
	postgresCommitters = 1
)

// Settings of the embedded SQLite database. WAL lets readers go on while one connection writes, writes begin
// immediate transactions, which take the write lock when they start rather than fail to upgrade a read lock later,
// and the busy timeout is how long one writer queues behind another before "database is locked". A commit waits for
// the disk, synchronous FULL, because an opt-out the API acknowledged must survive a power cut.
const (
	sqliteFile    = "optout.db"
	sqliteOptions = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=foreign_keys(1)&_txlock=immediate"

	// enough for readers alongside the one writer; more would only queue for the write lock
	sqliteMaxConns = 8
)

// unlockTimeout bounds releasing a contact's lock, which can't use the caller's context, as it may be done.
const unlockTimeout = 5 * time.Second

// store is the Store on either database.
type store struct {
	db      *sql.DB
	dialect *dialect

	// lockDB is the pool of connections that hold contacts' locks, nil where the locks are in-process only
	lockDB       *sql.DB
	contactLocks keyedMutex

	committer *groupCommitter
}

// Open opens the store and migrates its schema. A postgres:// or postgresql:// DSN is a PostgreSQL database, which
// several instances can share, and anything else the directory of an embedded SQLite database, created if missing,
// which is one store's: its contact locks are in-process. A command that takes a PostgreSQL URL from its user checks
// it with CheckPostgresURL first, so that a typo doesn't become a directory.
//
// Connections to PostgreSQL are opened as they're needed, and one that breaks is dropped, so that a store that was
// open when PostgreSQL went away works again when it comes back, without reopening.
func Open(ctx context.Context, dsn string) (Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

// CheckPostgresURL says what is wrong with a PostgreSQL URL as a user gives it, without repeating its password; an
// empty one is no URL and fine. libpq's keyword strings (host=... dbname=...) are not read: the driver reads them, but
// the store could not tell one from the name of a directory.
func CheckPostgresURL(dsn string) error {
	if dsn == "" {
		return nil
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return errors.New("is not a PostgreSQL URL: give one such as postgres://USER@HOST:5432/DATABASE (keyword strings like host=... are not read)")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("%q is not a PostgreSQL URL: its scheme must be postgres or postgresql, not %q", u.Redacted(), u.Scheme)
	}
	return nil
}

func openPostgres(ctx context.Context, dsn string) (Store, error) {
	db, err := postgresPool(dsn, postgresMaxConns)
	if err != nil {
		return nil, err
	}
	lockDB, err := postgresPool(dsn, postgresMaxLockConns)
	if err != nil {
		db.Close()
		return nil, err
	}

	s := &store{db: db, dialect: postgresDialect, lockDB: lockDB}
	s.committer = newGroupCommitter(postgresCommitters, s.commitChanges)
	if err := migrate(ctx, db, postgresDialect); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	return s, nil
}

func postgresPool(dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open(postgresDialect.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(postgresMaxIdleTime)
	db.SetConnMaxLifetime(postgresMaxLifetime)
	return db, nil
}

func openSQLite(ctx context.Context, dir string) (Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}
	db, err := sqlitePool(dir)
	if err != nil {
		return nil, err
	}

	s := &store{db: db, dialect: sqliteDialect}
	s.committer = newGroupCommitter(1, s.commitChanges)
	if err := migrate(ctx, db, sqliteDialect); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening sqlite in %s: %w", dir, err)
	}
	return s, nil
}

func sqlitePool(dir string) (*sql.DB, error) {
	db, err := sql.Open(sqliteDialect.driver, filepath.Join(dir, sqliteFile)+sqliteOptions)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}
	db.SetMaxOpenConns(sqliteMaxConns)
	db.SetMaxIdleConns(sqliteMaxConns)
	return db, nil
}

// OpenSQL opens the database of the store that Open(dsn) opens, through the store's driver, with its settings and
// its pool of connections, but not the store: for measuring what the database does alone against what the store
// does with it (optout bench). It returns the Go package of the driver. The database must exist, as Open made it.
func OpenSQL(dsn string) (*sql.DB, string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := postgresPool(dsn, postgresMaxConns)
		return db, "github.com/jackc/pgx/v5", err
	}
	db, err := sqlitePool(dsn)
	return db, "modernc.org/sqlite", err
}

func (s *store) Close() error {
	s.committer.close()
	err := s.db.Close()
	if s.lockDB != nil {
		if lerr := s.lockDB.Close(); err == nil {
			err = lerr
		}
	}
	return err
}

func (s *store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging %s: %w", s.dialect.name, err)
	}
	return nil
}

// inTx runs fn in a transaction, which it commits if fn succeeds and rolls back if not.
func (s *store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}
