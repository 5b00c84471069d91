package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/optout-dev/optout/internal/testenv"
	"path/filepath"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
)

// testDB is a database of a test's own: a directory for SQLite, and a schema for PostgreSQL, dropped after the test.
type testDB struct {
	dialect *dialect
	dsn     string
	schema  string // on PostgreSQL
}

// open opens a store on the database, closed after the test. Each call opens another store, as another instance would.
func (db *testDB) open(t *testing.T) Store {
	t.Helper()
	s, err := Open(t.Context(), db.dsn)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// eachDB runs the test on SQLite and on PostgreSQL, each with a database of its own.
func eachDB(t *testing.T, test func(t *testing.T, db *testDB)) {
	t.Run("sqlite", func(t *testing.T) {
		test(t, &testDB{dialect: sqliteDialect, dsn: t.TempDir()})
	})
	t.Run("postgres", func(t *testing.T) {
		test(t, postgresDB(t))
	})
}

// eachStore runs the test on a store on each database.
func eachStore(t *testing.T, test func(t *testing.T, s Store)) {
	eachDB(t, func(t *testing.T, db *testDB) {
		test(t, db.open(t))
	})
}

// postgresDB is a schema of the test's own in the PostgreSQL database of OPTOUT_TEST_DB.
func postgresDB(t *testing.T) *testDB {
	dsn := testenv.PostgresSchema(t)
	return &testDB{dialect: postgresDialect, dsn: dsn, schema: testenv.SchemaOf(t, dsn)}
}

// at is a time of the test, minutes after a fixed start, in UTC to the microsecond as the store keeps times.
func at(minutes int) time.Time {
	return time.Date(2025, 3, 14, 9, 0, 0, 123456000, time.UTC).Add(time.Duration(minutes) * time.Minute)
}

func createWorkspace(t *testing.T, s Store, id string) *Workspace {
	t.Helper()
	ws := &Workspace{ID: id, Name: "Workspace " + id, Config: json.RawMessage(`{"default_language": "spa"}`), WebhookURL: "https://example.com/hook/" + id}
	_, err := s.PutWorkspace(t.Context(), ws, nil, nil)
	require.NoError(t, err)
	return ws
}

// newContact is a contact with a new UUID and the URN, which Data records as goflow's JSON would.
func newContact(urn string, status consent.Status, groups ...assets.GroupUUID) *Contact {
	uuid := flows.ContactUUID(uuids.NewV4())
	c := &Contact{
		UUID:      uuid,
		URN:       urns.URN(urn),
		Name:      "Contact " + urn,
		Language:  "por",
		OptStatus: status,
		Groups:    groups,
		Data:      json.RawMessage(fmt.Sprintf(`{"uuid": %q, "urns": [%q], "status": "active"}`, uuid, urn)),
	}
	if status != consent.Undefined {
		c.OptChangedOn = at(1)
	}
	return c
}

func commit(t *testing.T, s Store, c *Change) {
	t.Helper()
	require.NoError(t, s.Commit(t.Context(), c))
}

func TestOpenMigratesOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		s1 := db.open(t)
		createWorkspace(t, s1, "acme")
		s2 := db.open(t) // migrations are already applied: nothing to do, nothing lost

		ws, err := s2.GetWorkspace(t.Context(), "acme")
		require.NoError(t, err)
		assert.Equal(t, "Workspace acme", ws.Name)

		var versions, applied int
		err = s2.(*store).db.QueryRowContext(t.Context(), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&versions, &applied)
		require.NoError(t, err)
		assert.Equal(t, len(db.dialect.migrations), versions)
		assert.Equal(t, len(db.dialect.migrations), applied)
	})
}

// Instances that start at once on one PostgreSQL database migrate it once. An SQLite directory is one process's.
func TestOpenConcurrently(t *testing.T) {
	db := postgresDB(t)
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			s, err := Open(t.Context(), db.dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		assert.NoError(t, <-errs)
	}

	s := db.open(t)
	var versions int
	require.NoError(t, s.(*store).db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&versions))
	assert.Equal(t, len(postgresDialect.migrations), versions)
}

func TestDataSurvivesReopening(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		s, err := Open(t.Context(), db.dsn)
		require.NoError(t, err)
		createWorkspace(t, s, "acme")
		c := newContact("whatsapp:5511999990001", consent.OptedOut)
		commit(t, s, &Change{Workspace: "acme", Contacts: []*Contact{c}})
		require.NoError(t, s.Close())

		s = db.open(t)
		got, err := s.ContactByURN(t.Context(), "acme", c.URN)
		require.NoError(t, err)
		assert.Equal(t, c.UUID, got.UUID)
		assert.Equal(t, consent.OptedOut, got.OptStatus)
	})
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "optout")
	s, err := Open(t.Context(), dir)
	require.NoError(t, err)
	defer s.Close()

	assert.FileExists(t, filepath.Join(dir, "optout.db"))
	var mode string
	require.NoError(t, s.(*store).db.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode))
	assert.Equal(t, "wal", mode)
}

func TestIsUnavailable(t *testing.T) {
	assert.False(t, IsUnavailable(nil))
	assert.False(t, IsUnavailable(ErrNotFound))
	assert.False(t, IsUnavailable(fmt.Errorf("committing change: %w", ErrConflict)))
	assert.False(t, IsUnavailable(context.Canceled))

	// nothing listens on port 1
	_, err := Open(t.Context(), "postgres://root@127.0.0.1:1/test?sslmode=disable")
	require.Error(t, err)
	assert.True(t, IsUnavailable(err), "%v", err)

	eachDB(t, func(t *testing.T, db *testDB) {
		s := db.open(t)
		require.NoError(t, s.Ping(t.Context()))
		s.Close()

		err := s.Ping(t.Context())
		require.Error(t, err)
		assert.True(t, IsUnavailable(err), "%v", err)

		_, err = s.GetWorkspace(t.Context(), "acme")
		assert.True(t, IsUnavailable(err), "%v", err)
	})
}

// A query whose deadline passes, as queries do when the database is overloaded, is unavailable.
func TestIsUnavailableOnDeadline(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		var n int
		err := s.(*store).db.QueryRowContext(ctx, `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) SELECT COUNT(*) FROM c`).Scan(&n)
		require.Error(t, err)
		assert.True(t, IsUnavailable(err), "%v", err)
	})
}

// A write that waited for SQLite's write lock past the busy timeout is unavailable.
func TestIsUnavailableWhenSQLiteIsLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), dir)
	require.NoError(t, err)
	defer s.Close()

	tx, err := s.(*store).db.BeginTx(t.Context(), nil) // an immediate transaction, which takes the write lock
	require.NoError(t, err)
	defer tx.Rollback()

	other, err := sql.Open("sqlite", filepath.Join(dir, sqliteFile)+"?_pragma=busy_timeout(50)")
	require.NoError(t, err)
	defer other.Close()
	_, err = other.ExecContext(t.Context(), `INSERT INTO workspaces (id, name, webhook_url, webhook_secret, token_hash, version, created_on, updated_on) VALUES ('acme', '', '', '', '', 1, 0, 0)`)
	require.Error(t, err)
	assert.True(t, IsUnavailable(err), "%v", err)
}

// A store whose connections PostgreSQL dropped, as it does when it restarts, works again without reopening, and a
// call that was using one when it was dropped fails as unavailable.
func TestPostgresReconnects(t *testing.T) {
	db := postgresDB(t)
	s := db.open(t)
	createWorkspace(t, s, "acme")

	// fill the pool with idle connections, and hold one in a transaction
	conns := make([]*sql.Conn, 3)
	for i := range conns {
		var err error
		conns[i], err = s.(*store).db.Conn(t.Context())
		require.NoError(t, err)
	}
	for _, c := range conns {
		c.Close()
	}
	tx, err := s.(*store).db.BeginTx(t.Context(), nil)
	require.NoError(t, err)

	admin, err := sql.Open("pgx", db.dsn)
	require.NoError(t, err)
	defer admin.Close()
	var killed int
	err = admin.QueryRowContext(t.Context(), `
		SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`,
		db.schema).Scan(&killed)
	require.NoError(t, err)
	require.GreaterOrEqual(t, killed, 3)

	_, err = tx.ExecContext(t.Context(), `SELECT 1`)
	require.Error(t, err)
	assert.True(t, IsUnavailable(err), "%v", err)
	tx.Rollback()

	ws, err := s.GetWorkspace(t.Context(), "acme")
	require.NoError(t, err)
	assert.Equal(t, "acme", ws.ID)
	require.NoError(t, s.Ping(t.Context()))
}
