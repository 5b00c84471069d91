package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// The schema is in schema/DIALECT/NNN_name.sql, a file per version and dialect: version N is the file numbered N.
// The two dialects' files describe the same tables, columns and indexes, and grow together: a change to the schema
// is a new version in both, never an edit of an applied one.
//
// Conventions of both: timestamps are BIGINT unix microseconds, which compare and order as integers and need no
// driver to parse them, and NULL for the zero time, which means never; text that can be empty is the empty string rather than
// NULL; JSON documents are JSONB on PostgreSQL and TEXT on SQLite, and NULL when there's none. A webhook body is TEXT
// in both, because it is signed and must come back byte for byte, which JSONB doesn't keep. SQLite's files use
// INTEGER PRIMARY KEY AUTOINCREMENT for identities, which like a sequence never gives a number twice, so a reader
// paging past the newest row misses nothing, INTEGER for BIGINT and BOOLEAN, and TEXT for JSONB.
//
//go:embed schema
var schemaFiles embed.FS

// schemaVersions reads a dialect's versions of the schema, in order, checking that they are numbered 1, 2, 3...
func schemaVersions(dialect string) []string {
	dir := path.Join("schema", dialect)
	entries, err := schemaFiles.ReadDir(dir)
	if err != nil {
		panic(err)
	}
	versions := make([]string, len(entries))
	for i, e := range entries {
		if n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0]); err != nil || n != i+1 || !strings.HasSuffix(e.Name(), ".sql") {
			panic(fmt.Sprintf("store: %s is not version %d of the schema: name it %03d_WHAT.sql", path.Join(dir, e.Name()), i+1, i+1))
		}
		data, err := schemaFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			panic(err)
		}
		versions[i] = string(data)
	}
	return versions
}

const (
	sqlCreateSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, applied_on BIGINT NOT NULL)`
	sqlSchemaVersion          = `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`
	sqlInsertSchemaMigration  = `INSERT INTO schema_migrations (version, applied_on) VALUES ($1, $2)`
)

// migrate brings the schema up to the dialect's last version, in one transaction, so that a failed migration leaves
// the schema as it was. A database already at that version, or past it because a newer instance migrated it during a
// rolling deploy, is left alone.
func migrate(ctx context.Context, db *sql.DB, d *dialect) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning migrations: %w", err)
	}
	defer tx.Rollback()

	if d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, d.lockMigrations); err != nil {
			return fmt.Errorf("locking migrations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, sqlCreateSchemaMigrations); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}

	var current int
	if err := tx.QueryRowContext(ctx, sqlSchemaVersion).Scan(&current); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	for version := current + 1; version <= len(d.migrations); version++ {
		if _, err := tx.ExecContext(ctx, d.migrations[version-1]); err != nil {
			return fmt.Errorf("migrating to version %d: %w", version, err)
		}
		if _, err := tx.ExecContext(ctx, sqlInsertSchemaMigration, version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("recording version %d: %w", version, err)
		}
	}

	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing migrations: %w", err)
	}
	return nil
}
