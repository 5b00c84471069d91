package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/require"
)

// eventually is the deadline for anything that waits on another goroutine or process: generous, because this
// machine is small and loaded, and the tests assert on what happens, not on how fast.
const eventually = 10 * time.Second

// testPrefix returns a key prefix of the test's own on the Redis at url, whose keys are deleted when the test ends,
// so that tests can share one Redis, in parallel too.
func testPrefix(t *testing.T, url string) string {
	t.Helper()
	prefix := "optout-test:" + rand.Text()
	t.Cleanup(func() {
		conn, err := redis.DialURL(url)
		if err != nil {
			return // a test's own server that was stopped
		}
		defer conn.Close()
		keys, err := redis.Strings(conn.Do("KEYS", prefix+":*"))
		require.NoError(t, err)
		for _, key := range keys {
			_, err := conn.Do("DEL", key)
			require.NoError(t, err)
		}
	})
	return prefix
}

// newCoordinator returns a Coordinator that the test closes when it ends. Its calls to Redis may take 10 seconds
// rather than one, as CI runs packages' tests at once on two cores: a test of what Redis does shouldn't see Redis as
// down, and fall back, because the machine was busy for a second.
func newCoordinator(t *testing.T, url string, fallback Locker, opts ...Option) *Coordinator {
	t.Helper()
	c, err := New(url, fallback, slog.New(slog.DiscardHandler), append([]Option{WithTimeout(10 * time.Second)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// dial returns a connection of the test's own to the Redis at url, to look at keys directly.
func dial(t *testing.T, url string) redis.Conn {
	t.Helper()
	conn, err := redis.DialURL(url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// fakeLocker is an in-process Locker that counts its locks, to tell when a Coordinator fell back to it. Like the
// store's, it waits for a lock until ctx is done.
type fakeLocker struct {
	mu    sync.Mutex
	locks map[string]chan struct{} // a token per lock, taken while it is held
	calls atomic.Int64
}

func (l *fakeLocker) LockContact(ctx context.Context, workspace string, urn urns.URN) (func(), error) {
	l.calls.Add(1)
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]chan struct{}{}
	}
	key := workspace + "\x00" + member(urn)
	token := l.locks[key]
	if token == nil {
		token = make(chan struct{}, 1)
		l.locks[key] = token
	}
	l.mu.Unlock()
	select {
	case token <- struct{}{}:
		return func() { <-token }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// urn returns a WhatsApp URN numbered n.
func urn(n int) urns.URN {
	return urns.URN(fmt.Sprintf("whatsapp:55119%08d", n))
}

// countingDialer dials TCP and counts the attempts, to tell whether a Coordinator tried Redis at all. While refuse
// is set, it fails as if Redis were unreachable.
type countingDialer struct {
	attempts atomic.Int64
	refuse   atomic.Bool
}

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.attempts.Add(1)
	if d.refuse.Load() {
		return nil, errors.New("unreachable")
	}
	var dialer net.Dialer
	return dialer.DialContext(ctx, network, addr)
}
