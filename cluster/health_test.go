package cluster

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
)

// While Redis is down, every call answers at once without dialing it (the breaker), locks come from the fallback and
// answers are misses; once Run's check finds Redis again, locks are Redis's again. Going away and coming back are
// logged once each.
func TestOutage(t *testing.T) {
	srv := testenv.StartRedis(t)
	t.Parallel()
	ctx := context.Background()
	locker := &fakeLocker{}
	var dialer countingDialer
	logs := &testenv.LockedBuffer{}
	c, err := New(srv.URL(), locker, slog.New(slog.NewTextHandler(logs, nil)), WithDialer(dialer.dial))
	require.NoError(t, err)
	defer c.Close()

	c.check(ctx)
	require.True(t, c.Available())
	unlock, err := c.LockContact(ctx, "ws", urn(1))
	require.NoError(t, err)
	unlock()
	assert.Equal(t, int64(0), locker.calls.Load())

	// the first lock after Redis went away finds it gone, and takes the fallback's
	srv.Kill()
	unlock, err = c.LockContact(ctx, "ws", urn(1))
	require.NoError(t, err)
	unlock()
	assert.False(t, c.Available())
	assert.Equal(t, int64(1), locker.calls.Load())
	dials := dialer.attempts.Load()

	for i := range 100 {
		unlock, err := c.LockContact(ctx, "ws", urn(i))
		require.NoError(t, err)
		unlock()
	}
	assert.Equal(t, dials, dialer.attempts.Load(), "no call dialed Redis")
	assert.Equal(t, int64(101), locker.calls.Load(), "the fallback locked")

	c.check(ctx)
	assert.False(t, c.Available())
	assert.Equal(t, dials+1, dialer.attempts.Load(), "the check probed Redis")

	srv.Start()
	c.check(ctx)
	assert.True(t, c.Available())
	unlock, err = c.LockContact(ctx, "ws", urn(1))
	require.NoError(t, err)
	exists, err := redis.Bool(dial(t, srv.URL()).Do("EXISTS", c.keys.lock("ws", urn(1))))
	require.NoError(t, err)
	assert.True(t, exists, "Redis locked again")
	unlock()
	assert.Equal(t, int64(101), locker.calls.Load())

	assert.Equal(t, 1, strings.Count(logs.String(), "redis is not answering"))
	assert.Equal(t, 1, strings.Count(logs.String(), "redis is answering again"))
}

// An instance running Run sees Redis go away and come back by itself.
func TestRunAfterRestart(t *testing.T) {
	srv := testenv.StartRedis(t)
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var dialer countingDialer
	c := newCoordinator(t, srv.URL(), &fakeLocker{}, WithDialer(dialer.dial), WithInterval(50*time.Millisecond))
	go c.Run(ctx)
	require.Eventually(t, c.Available, eventually, 10*time.Millisecond)

	srv.Kill()
	require.Eventually(t, func() bool { return !c.Available() }, eventually, 10*time.Millisecond)
	dials := dialer.attempts.Load()
	require.Eventually(t, func() bool { return dialer.attempts.Load() >= dials+4 }, eventually, 10*time.Millisecond, "Run probes Redis")

	srv.Start()
	require.Eventually(t, c.Available, eventually, 10*time.Millisecond)
}
