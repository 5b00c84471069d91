package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// PostgresServer is a PostgreSQL server of the test's own, in a directory and on a port of its own, that the test
// can stop and start again to see what an outage does, without touching the server other tests share.
type PostgresServer struct {
	t    testing.TB
	bin  string // where initdb and pg_ctl are
	dir  string
	port int
	as   []string // the command prefix that runs the server's programs as the postgres user, when we are root
}

// StartPostgres initializes and starts a PostgreSQL server for the test, removed when it ends. Like every test
// against PostgreSQL it needs OPTOUT_TEST_DB, which says this machine has PostgreSQL.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	Postgres(t)

	initdbs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(initdbs) == 0 {
		t.Fatal("no /usr/lib/postgresql/*/bin/initdb: PostgreSQL's server programs are needed to run a server of the test's own")
	}
	s := &PostgresServer{t: t, bin: filepath.Dir(initdbs[len(initdbs)-1])}

	// PostgreSQL refuses to run as root, so as root the server runs as the postgres user, in a directory it owns
	dir, err := os.MkdirTemp("", "optout-pg-")
	require.NoError(t, err)
	s.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		require.NoError(t, err, "running PostgreSQL as root needs a postgres user")
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		require.NoError(t, os.Chown(dir, uid, gid))
		s.as = []string{"runuser", "-u", "postgres", "--"}
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.port = l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	s.run("initdb", "-D", s.data(), "-A", "trust", "-U", "root", "--no-sync", "-E", "UTF8")
	s.Start()
	t.Cleanup(func() { s.pgctl("stop", "-m", "immediate") })
	return s
}

// URL returns the URL of the server's postgres database.
func (s *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://root@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

// Start starts the server and waits until it accepts connections.
func (s *PostgresServer) Start() {
	s.t.Helper()
	s.pgctl("start", "-w", "-l", filepath.Join(s.dir, "log"),
		"-o", fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s", s.port, s.dir))
}

// Stop stops the server, ending every connection to it at once, as a restart or a failover would.
func (s *PostgresServer) Stop() {
	s.t.Helper()
	s.pgctl("stop", "-w", "-m", "fast")
}

func (s *PostgresServer) data() string { return filepath.Join(s.dir, "data") }

func (s *PostgresServer) pgctl(args ...string) {
	s.run("pg_ctl", append([]string{"-D", s.data()}, args...)...)
}

func (s *PostgresServer) run(program string, args ...string) {
	s.t.Helper()
	argv := append(append(append([]string{}, s.as...), filepath.Join(s.bin, program)), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	require.NoError(s.t, err, "%s: %s", program, out)
}
