package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/stretchr/testify/require"
)

// RedisServer is a redis-server of the test's own, on a port of its own, that the test can kill and start again to
// see what an outage does. It keeps nothing on disk, so one started again is empty, like the shared one after a
// restart.
type RedisServer struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// StartRedis starts a redis-server for the test, killed when it ends. Like every test against Redis it needs
// OPTOUT_TEST_REDIS, which says this machine has Redis.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	Redis(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	s := &RedisServer{t: t, port: port}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// URL returns the server's URL.
func (s *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d", s.port) }

// Start starts the server, and waits until it answers.
func (s *RedisServer) Start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	require.NoError(s.t, s.cmd.Start())
	require.Eventually(s.t, func() bool {
		conn, err := redis.DialURL(s.URL())
		if err != nil {
			return false
		}
		defer conn.Close()
		_, err = conn.Do("PING")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "redis-server didn't start")
}

// Kill kills the server, as a crash would.
func (s *RedisServer) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}
