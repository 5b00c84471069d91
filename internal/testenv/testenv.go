// Package testenv gives tests the services they run against: PostgreSQL and Redis from the environment, and the
// optout binary itself, started as a process.
//
// Tests that need PostgreSQL read its URL from OPTOUT_TEST_DB and tests that need Redis from OPTOUT_TEST_REDIS.
// Without them they skip, saying which variable to set, except in CI (CI=true), where a missing service is a failure.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/require"

	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver, to create and drop the test schemas
)

// Postgres returns the URL of the test database.
func Postgres(t testing.TB) string {
	return lookup(t, "OPTOUT_TEST_DB", "a PostgreSQL URL such as postgres://root@127.0.0.1:5432/test?sslmode=disable")
}

// PostgresSchema creates a schema of its own for the test, dropped afterwards, and returns the test database's URL
// with its search_path set to it, so that tests sharing the database never see each other's tables. The schema is
// also the connections' application_name, which tells them from any other's.
func PostgresSchema(t testing.TB) string {
	base := Postgres(t)
	schema := "test_" + strings.ReplaceAll(string(uuids.NewV4()), "-", "")[:16]

	db, err := sql.Open("pgx", base)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(context.Background(), "CREATE SCHEMA "+schema)
	require.NoError(t, err)

	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		require.NoError(t, err)
		defer db.Close()
		_, err = db.Exec("DROP SCHEMA " + schema + " CASCADE")
		require.NoError(t, err)
	})

	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Redis returns the URL of the test Redis.
func Redis(t testing.TB) string {
	return lookup(t, "OPTOUT_TEST_REDIS", "a Redis URL such as redis://127.0.0.1:6379")
}

func lookup(t testing.TB, name, what string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set: set it to %s to run this test", name, what)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// SchemaOf returns the schema of a URL that PostgresSchema returned.
func SchemaOf(t testing.TB, dsn string) string {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	return u.Query().Get("search_path")
}
