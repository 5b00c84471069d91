package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary builds the optout command once per test binary and returns its path.
func Binary(t testing.TB) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "optout-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "optout")
		out, err := exec.Command("go", "build", "-race", "-o", binary, "github.com/optout-dev/optout/cmd/optout").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building optout: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binary
}

// Serve is an `optout serve` process.
type Serve struct {
	URL  string
	Addr string
	env  []string
	cmd  *exec.Cmd
	logs *LockedBuffer
	done chan struct{}
}

// StartServe starts `optout serve` on a free loopback port with the given environment and waits until it answers its
// health check. It is killed when the test ends, and its log is printed if the test failed.
func StartServe(t testing.TB, env map[string]string) *Serve {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()

	s := &Serve{URL: "http://" + addr, Addr: addr, logs: &LockedBuffer{}}
	s.env = append(os.Environ(), "OPTOUT_ADDR="+addr, "OPTOUT_LOG_FORMAT=json")
	for k, v := range env {
		s.env = append(s.env, k+"="+v)
	}
	s.start(t)

	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("optout serve log:\n%s", s.logs.String())
		}
	})
	return s
}

func (s *Serve) start(t testing.TB) {
	s.cmd = exec.Command(Binary(t), "serve")
	s.cmd.Env = s.env
	stderr, err := s.cmd.StderrPipe()
	require.NoError(t, err)
	s.cmd.Stdout = s.logs
	require.NoError(t, s.cmd.Start())

	s.done = make(chan struct{})
	go func() {
		lines := bufio.NewScanner(stderr)
		lines.Buffer(make([]byte, 0, 64*1024), 1024*1024)
		for lines.Scan() {
			s.logs.WriteString(lines.Text() + "\n")
		}
		s.cmd.Wait()
		close(s.done)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.done:
			t.Fatalf("optout serve exited: %s", s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("optout serve didn't answer /healthz within a minute: %s", s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the process as an operator would, with SIGTERM, and waits for it to exit.
func (s *Serve) Stop(t testing.TB) {
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		t.Fatal("optout serve didn't stop within a minute of SIGTERM")
	}
}

// Kill kills the process with SIGKILL, as a crash would, and waits for it to exit.
func (s *Serve) Kill() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Crash kills the process with SIGKILL and starts it again with the same settings.
func (s *Serve) Crash(t testing.TB) {
	s.Kill()
	s.start(t)
}

// Restart stops the process gracefully and starts it again with the same settings.
func (s *Serve) Restart(t testing.TB) {
	s.Stop(t)
	s.start(t)
}

// Logs returns what the process logged, one JSON object per line.
func (s *Serve) Logs() []map[string]any {
	var entries []map[string]any
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil {
			entries = append(entries, e)
		}
	}
	return entries
}

// LogText returns what the process wrote to its output and log.
func (s *Serve) LogText() string { return s.logs.String() }

// LockedBuffer is a buffer that goroutines write to, a process or a logger, while a test reads it.
type LockedBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *LockedBuffer) WriteString(s string) {
	b.mu.Lock()
	b.sb.WriteString(s)
	b.mu.Unlock()
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}

var _ io.Writer = (*LockedBuffer)(nil)
