package bench

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/optout-dev/optout/store"
)

// target is a store `optout serve` runs on, with what the baselines need to reach the same database through the
// same driver.
type target struct {
	name   string   // postgres or embedded, as in the results' names
	label  string   // for the report
	env    []string // the settings of `optout serve` and of the opt-out list commands
	dsn    string   // as store.Open takes it
	driver string   // the Go package of the store's driver, which the baselines use too
	pool   int      // the store's connections at most, which the baselines keep to as well
	redis  string   // the Redis beside it, if any
	drop   func() error
}

// openTargets makes PostgreSQL's target, in a schema of the run's own, when o.DB is given, and the embedded store's,
// in dir. The embedded store comes last.
func openTargets(ctx context.Context, o Options, dir string) ([]*target, error) {
	var targets []*target
	if o.DB != "" {
		t, err := postgresTarget(ctx, o.DB, o.Redis)
		if err != nil {
			return nil, fmt.Errorf("db: %w", err)
		}
		targets = append(targets, t)
	}
	data := filepath.Join(dir, "embedded")
	targets = append(targets, &target{
		name:  "embedded",
		label: "the embedded store (SQLite)",
		env:   []string{"OPTOUT_DATA_DIR=" + data},
		dsn:   data,
		drop:  func() error { return nil }, // dir goes with the run's
	})
	for _, t := range targets {
		db, err := t.open()
		if err != nil {
			return nil, err
		}
		t.pool = db.Stats().MaxOpenConnections
		db.Close()
	}
	return targets, nil
}

func closeTargets(targets []*target) {
	for _, t := range targets {
		t.drop()
	}
}

// postgresTarget creates a schema for the run in the database, dropped when the run ends, and returns the
// target whose URL has its search_path set to it, as the tests make theirs (internal/testenv).
func postgresTarget(ctx context.Context, base, redis string) (*target, error) {
	schema := "bench_" + randomToken()[:16]
	db, _, err := store.OpenSQL(base)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return nil, fmt.Errorf("creating the schema of the run: %w", err)
	}

	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()

	t := &target{
		name:  "postgres",
		label: "PostgreSQL",
		env:   []string{"OPTOUT_DB=" + u.String()},
		dsn:   u.String(),
		redis: redis,
		drop: func() error {
			db, _, err := store.OpenSQL(base)
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = db.Exec("DROP SCHEMA " + schema + " CASCADE")
			return err
		},
	}
	if redis != "" {
		t.label = "PostgreSQL + Redis"
		t.env = append(t.env, "OPTOUT_REDIS="+redis)
	}
	return t, nil
}

// open opens the target's database as the store does, through its driver with its settings and its pool of
// connections: clients beyond the pool queue for one, as the service's requests do, rather than contend for the
// database's locks.
func (t *target) open() (*sql.DB, error) {
	db, driver, err := store.OpenSQL(t.dsn)
	t.driver = driver
	return db, err
}
