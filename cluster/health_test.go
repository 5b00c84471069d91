package cluster

import (
	"context"
	"github.com/optout-dev/optout/internal/testenv"
	"log/slog"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// While Redis is down, every call answers at once without dialing it (the breaker), locks come from the fallback,
// and writes that miss the set leave it untrusted; once Run's check finds Redis again, empty after its restart, the
// sets are rebuilt from the store, writes made during the outage included, and locks are Redis's again. Going away
// and coming back are logged once each.
func TestOutage(t *testing.T) {
	srv := testenv.StartRedis(t)
	t.Parallel()
	ctx := context.Background()
	source := &fakeSource{}
	source.set("ws", urn(1), true)
	source.set("ws", urn(2), false)
	locker := &fakeLocker{}
	var dialer countingDialer
	logs := &logBuffer{}
	c, err := New(srv.URL(), locker, source, slog.New(slog.NewTextHandler(logs, nil)), WithDialer(dialer.dial))
	require.NoError(t, err)
	defer c.Close()
	batch := []urns.URN{urn(1), urn(2)}

	c.check(ctx)
	require.True(t, c.Available())
	optedOut, ok := c.OptedOut(ctx, "ws", batch)
	assert.True(t, ok)
	assert.Equal(t, []bool{true, false}, optedOut)
	unlock, err := c.LockContact(ctx, "ws", urn(1))
	require.NoError(t, err)
	unlock()
	assert.Equal(t, int64(0), locker.calls.Load())

	srv.Kill()
	_, ok = c.OptedOut(ctx, "ws", batch)
	assert.False(t, ok)
	assert.False(t, c.Available())
	dials := dialer.attempts.Load()

	for i := range 100 {
		_, ok = c.OptedOut(ctx, "ws", batch)
		assert.False(t, ok)
		source.set("ws", urn(i), i%2 == 1)
		c.SetOptedOut(ctx, "ws", urn(i), i%2 == 1)
		unlock, err := c.LockContact(ctx, "ws", urn(i))
		require.NoError(t, err)
		unlock()
		c.RememberResponse(ctx, "ws", "msg", []byte(`{}`))
		_, ok = c.Response(ctx, "ws", "msg")
		assert.False(t, ok)
	}
	assert.Equal(t, dials, dialer.attempts.Load(), "no call dialed Redis")
	assert.Equal(t, int64(100), locker.calls.Load(), "the fallback locked")

	c.check(ctx)
	assert.False(t, c.Available())
	assert.Equal(t, dials+1, dialer.attempts.Load(), "the check probed Redis")

	srv.Start()
	c.check(ctx)
	assert.True(t, c.Available())
	optedOut, ok = c.OptedOut(ctx, "ws", []urns.URN{urn(1), urn(2), urn(98), urn(99)})
	assert.True(t, ok)
	assert.Equal(t, []bool{true, false, false, true}, optedOut)
	unlock, err = c.LockContact(ctx, "ws", urn(1))
	require.NoError(t, err)
	exists, err := redis.Bool(dial(t, srv.URL()).Do("EXISTS", c.keys.lock("ws", urn(1))))
	require.NoError(t, err)
	assert.True(t, exists, "Redis locked again")
	unlock()
	assert.Equal(t, int64(100), locker.calls.Load())

	assert.Equal(t, 1, logs.count("redis is not answering"))
	assert.Equal(t, 1, logs.count("redis is answering again"))
}

// Two instances running Run see Redis go away and come back empty, and rebuild and trust the sets again by
// themselves.
func TestRunAfterRestart(t *testing.T) {
	srv := testenv.StartRedis(t)
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	source := &fakeSource{}
	source.set("ws", urn(1), true)
	source.set("ws", urn(2), false)
	var dialer countingDialer
	instances := make([]*Coordinator, 2)
	for i := range instances {
		instances[i] = newCoordinator(t, srv.URL(), &fakeLocker{}, source, WithDialer(dialer.dial), WithInterval(50*time.Millisecond))
		go instances[i].Run(ctx)
	}
	trusted := func(want []bool) bool {
		for _, c := range instances {
			optedOut, ok := c.OptedOut(ctx, "ws", []urns.URN{urn(1), urn(2)})
			if !ok || !assert.Equal(t, want, optedOut) || !c.Available() {
				return false
			}
		}
		return true
	}
	require.Eventually(t, func() bool { return trusted([]bool{true, false}) }, eventually, 10*time.Millisecond)

	srv.Kill()
	require.Eventually(t, func() bool {
		for _, c := range instances {
			if _, ok := c.OptedOut(ctx, "ws", []urns.URN{urn(1)}); ok || c.Available() {
				return false
			}
		}
		return true
	}, eventually, 10*time.Millisecond)
	source.set("ws", urn(2), true)
	instances[0].SetOptedOut(ctx, "ws", urn(2), true)
	dials := dialer.attempts.Load()
	require.Eventually(t, func() bool { return dialer.attempts.Load() >= dials+4 }, eventually, 10*time.Millisecond, "Run probes Redis")

	srv.Start()
	require.Eventually(t, func() bool { return trusted([]bool{true, true}) }, eventually, 10*time.Millisecond)
}

// An instance that can't reach Redis while others can, as in a network partition, misses a write. It doesn't trust
// the set meanwhile, and when it reaches Redis again it invalidates the set before anything else, so the set is
// rebuilt with the write rather than trusted without it.
func TestDirtySetInvalidatedOnRecovery(t *testing.T) {
	srv := testenv.StartRedis(t)
	t.Parallel()
	ctx := context.Background()
	source := &fakeSource{}
	source.set("ws", urn(1), true)
	source.set("ws", urn(2), false)
	var dialer countingDialer
	cut := newCoordinator(t, srv.URL(), &fakeLocker{}, source, WithDialer(dialer.dial))
	other := newCoordinator(t, srv.URL(), &fakeLocker{}, source)
	batch := []urns.URN{urn(1), urn(2)}

	cut.check(ctx)
	require.True(t, cut.Available())
	optedOut, ok := other.OptedOut(ctx, "ws", batch)
	require.True(t, ok)
	require.Equal(t, []bool{true, false}, optedOut)

	dialer.refuse.Store(true)
	_, err := dial(t, srv.URL()).Do("CLIENT", "KILL", "TYPE", "normal")
	require.NoError(t, err)
	source.set("ws", urn(2), true)
	cut.SetOptedOut(ctx, "ws", urn(2), true)
	_, ok = cut.OptedOut(ctx, "ws", batch)
	assert.False(t, ok)
	assert.False(t, cut.Available())
	require.Eventually(t, func() bool {
		other.check(ctx)
		return other.Available()
	}, eventually, 10*time.Millisecond)

	dialer.refuse.Store(false)
	require.Eventually(t, func() bool {
		cut.check(ctx)
		return cut.Available()
	}, eventually, 10*time.Millisecond)
	optedOut, ok = other.OptedOut(ctx, "ws", batch)
	assert.True(t, ok)
	assert.Equal(t, []bool{true, true}, optedOut)
}
