package bench

import (
	"bufio"
	"context"
	"database/sql"
	"debug/buildinfo"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/gomodule/redigo/redis"

	"github.com/optout-dev/optout/store"
)

// Machine is what the figures were measured on.
type Machine struct {
	Cores       int    `json:"cores"`
	CPU         string `json:"cpu"`
	Memory      string `json:"memory"`
	LoadAverage string `json:"load_average"` // at the start: other work on the machine skews every figure
	Go          string `json:"go"`           // of the harness
	BinaryGo    string `json:"binary_go"`    // that built the optout binary measured
	PostgreSQL  string `json:"postgresql,omitempty"`
	Redis       string `json:"redis,omitempty"`
	SQLite      string `json:"sqlite"`
}

func describeMachine(ctx context.Context, o Options) (Machine, error) {
	m := Machine{
		Cores:       runtime.NumCPU(),
		CPU:         procField("/proc/cpuinfo", "model name"),
		Memory:      procField("/proc/meminfo", "MemTotal"),
		LoadAverage: loadAverage(),
		Go:          runtime.Version(),
	}
	if kib, err := strconv.ParseInt(strings.Fields(m.Memory + " 0")[0], 10, 64); err == nil && kib > 0 {
		m.Memory = fmt.Sprintf("%.1f GiB", float64(kib)/(1<<20))
	}

	info, err := buildinfo.ReadFile(o.Binary)
	if err != nil {
		return m, fmt.Errorf("binary: reading its build information: %w", err)
	}
	m.BinaryGo = info.GoVersion
	driver := "modernc.org/sqlite"
	for _, dep := range info.Deps {
		if dep.Path == driver {
			driver += " " + dep.Version
		}
	}

	if m.SQLite, err = sqliteVersion(ctx); err != nil {
		return m, err
	}
	m.SQLite += ", through " + driver

	if o.DB != "" {
		if m.PostgreSQL, err = postgresVersion(ctx, o.DB); err != nil {
			return m, fmt.Errorf("db: %w", err)
		}
	}
	if o.Redis != "" {
		if m.Redis, err = redisVersion(o.Redis); err != nil {
			return m, fmt.Errorf("redis: %w", err)
		}
	}
	return m, nil
}

// procField returns the value of a "name: value" line of a /proc file, empty if it has none.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if k, v, ok := strings.Cut(lines.Text(), ":"); ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

func sqliteVersion(ctx context.Context) (string, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err != nil {
		return "", fmt.Errorf("asking SQLite its version: %w", err)
	}
	return v, nil
}

func postgresVersion(ctx context.Context, dsn string) (string, error) {
	db, _, err := store.OpenSQL(dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("asking PostgreSQL its version: %w", err)
	}
	return v, nil
}

func redisVersion(url string) (string, error) {
	conn, err := redis.DialURL(url)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	info, err := redis.String(conn.Do("INFO", "server"))
	if err != nil {
		return "", fmt.Errorf("asking Redis its version: %w", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO server has no redis_version")
}
