package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// server is an `optout serve` process.
type server struct {
	URL  string
	cmd  *exec.Cmd
	log  string // the file its output goes to
	done chan struct{}
}

// serveSettings are what every service under bench runs with, beside its store's: no request rate or broadcast
// limit per workspace, which would measure the limits rather than the service, and webhooks to the harness's
// receiver on loopback.
var serveSettings = []string{
	"OPTOUT_WORKSPACE_RATE=0",
	"OPTOUT_WORKSPACE_BROADCASTS=0",
	"OPTOUT_WEBHOOK_ALLOW_PRIVATE=true",
	"OPTOUT_LOG_FORMAT=json",
}

// startServe starts `optout serve` on a free loopback port with the target's store, the run's admin token and the
// settings given, logging to a file of the run's, and waits until it answers its health check.
func (r *run) startServe(ctx context.Context, t *target, settings ...string) (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()

	logFile, err := os.CreateTemp(r.dir, "serve-*.log")
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the process has its own descriptor

	s := &server{URL: "http://" + addr, log: logFile.Name(), done: make(chan struct{})}
	s.cmd = exec.Command(r.opts.Binary, "serve")
	s.cmd.Env = append(environ(), "OPTOUT_ADDR="+addr, "OPTOUT_ADMIN_TOKEN="+r.adminToken)
	s.cmd.Env = append(append(append(s.cmd.Env, serveSettings...), t.env...), settings...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting optout serve: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()

	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("optout serve exited: %s", s.logTail())
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("optout serve didn't answer /healthz within a minute: %s", s.logTail())
		}
	}
}

// environ is the harness's environment without optout's settings, which would otherwise reach the processes it
// measures.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPTOUT_") {
			env = append(env, kv)
		}
	}
	return env
}

// stop stops the process with SIGTERM, as an operator would, and kills it if it is still there after a minute.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// logTail is the end of what the process wrote.
func (s *server) logTail() string {
	data, _ := os.ReadFile(s.log)
	const tail = 2000
	if len(data) > tail {
		data = data[len(data)-tail:]
	}
	return strings.TrimSpace(string(data))
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// memory reads the process's resident set and its peak (VmRSS and VmHWM) from /proc, in bytes.
func (s *server) memory() (rss, peak int64, err error) {
	return procMemory(s.pid())
}

func procMemory(pid int) (rss, peak int64, err error) {
	path := filepath.Join("/proc", strconv.Itoa(pid), "status")
	rssText, peakText := procField(path, "VmRSS"), procField(path, "VmHWM")
	if rssText == "" || peakText == "" {
		return 0, 0, fmt.Errorf("%s has no VmRSS or VmHWM", path)
	}
	return kib(rssText), kib(peakText), nil
}

// kib reads "1234 kB" as bytes.
func kib(s string) int64 {
	n, _ := strconv.ParseInt(strings.Fields(s + " 0")[0], 10, 64)
	return n << 10
}

// resetPeak sets the process's peak resident set back to its current one, so that VmHWM measures what comes after
// (/proc/PID/clear_refs, Linux 4.0 and later).
func (s *server) resetPeak() error {
	return os.WriteFile(filepath.Join("/proc", strconv.Itoa(s.pid()), "clear_refs"), []byte("5"), 0)
}

// client calls the API with a bearer token.
type client struct {
	base  string
	token string
	http  *http.Client
}

// apiError is an answer other than the one expected.
type apiError struct {
	method, path string
	status       int
	body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, strings.TrimSpace(e.body))
}

// call sends body as JSON (or as it is, if it is []byte), expects the status want, and reads the answer into into
// unless it is nil.
func (c *client) call(ctx context.Context, method, path string, body any, want int, into any) error {
	var data []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		data = b
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &apiError{method, path, resp.StatusCode, string(answer)}
	}
	if into != nil {
		return json.Unmarshal(answer, into)
	}
	return nil
}

// admin is a client with the admin token.
func (r *run) admin(s *server) *client {
	return &client{base: s.URL, token: r.adminToken, http: http.DefaultClient}
}

// workspace is a workspace the harness made, with a client holding its token.
type workspace struct {
	ID string
	*client
}

// webhookSecret signs every webhook of the workspaces the harness makes; the receiver checks it.
const webhookSecret = "the-bench-webhook-secret"

// createWorkspace creates a workspace with a token of its own and, unless endpoint is empty, a webhook to that
// endpoint of the receiver: ok, hang or slow.
func (r *run) createWorkspace(ctx context.Context, s *server, prefix, endpoint string) (*workspace, error) {
	id := prefix + "-" + randomToken()[:8]
	body := map[string]any{"name": id, "token": "token-" + id}
	if endpoint != "" {
		body["webhook"] = map[string]string{"url": r.receiver.url(endpoint, id), "secret": webhookSecret}
	}
	if err := r.admin(s).call(ctx, "PUT", "/v1/workspaces/"+id, body, http.StatusCreated, nil); err != nil {
		return nil, err
	}
	return &workspace{ID: id, client: &client{base: s.URL, token: "token-" + id, http: http.DefaultClient}}, nil
}

// drain waits until none of the workspace's webhook events is left to deliver, so that the next benchmark's
// deliveries don't queue behind them, in this service or the next one on the same store.
func drain(ctx context.Context, ws *workspace) error {
	for started := time.Now(); ; {
		var pending struct {
			Results []any `json:"results"`
		}
		if err := ws.call(ctx, "GET", ws.path("/webhooks?status=pending&limit=1"), nil, http.StatusOK, &pending); err != nil {
			return err
		}
		if len(pending.Results) == 0 {
			return nil
		}
		if time.Since(started) > 5*time.Minute {
			return fmt.Errorf("workspace %s still had webhook events to deliver after 5 minutes", ws.ID)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// path is the workspace's URL path with more after it.
func (w *workspace) path(rest string) string { return "/v1/workspaces/" + w.ID + rest }

// delete deletes the workspace and everything it holds.
func (r *run) deleteWorkspace(ctx context.Context, s *server, w *workspace) error {
	return r.admin(s).call(ctx, "DELETE", w.path(""), nil, http.StatusNoContent, nil)
}

// errNotHandled is a message answered otherwise than the benchmark expects: a keyword that changed nothing, or a
// flow that didn't answer, would measure less than it says.
var errNotHandled = errors.New("the answer is not what the message should get")
