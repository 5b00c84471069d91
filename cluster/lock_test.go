package cluster

import (
	"context"
	"github.com/optout-dev/optout/internal/testenv"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two instances on one Redis exclude each other: many goroutines in each increment a counter with a read, a yield
// and a write, which loses increments unless the lock excludes every other holder.
func TestLockExcludesAcrossInstances(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	prefix := testPrefix(t, url)
	locker := &fakeLocker{}
	instances := []*Coordinator{
		newCoordinator(t, url, locker, WithPrefix(prefix)),
		newCoordinator(t, url, locker, WithPrefix(prefix)),
	}

	const goroutines, increments = 8, 25
	var counter, holders, overlaps atomic.Int64
	var wg sync.WaitGroup
	for _, c := range instances {
		for range goroutines {
			wg.Go(func() {
				for range increments {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					unlock, err := c.LockContact(ctx, "ws", urn(1))
					cancel()
					if !assert.NoError(t, err) {
						return
					}
					if holders.Add(1) != 1 {
						overlaps.Add(1)
					}
					n := counter.Load()
					runtime.Gosched()
					counter.Store(n + 1)
					holders.Add(-1)
					unlock()
				}
			})
		}
	}
	wg.Wait()

	assert.Equal(t, int64(0), overlaps.Load())
	assert.Equal(t, int64(len(instances)*goroutines*increments), counter.Load())
	assert.Equal(t, int64(0), locker.calls.Load(), "Redis locked, not the fallback")
}

func TestLockReleases(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	ctx := context.Background()
	prefix := testPrefix(t, url)
	a := newCoordinator(t, url, &fakeLocker{}, WithPrefix(prefix))
	b := newCoordinator(t, url, &fakeLocker{}, WithPrefix(prefix))
	conn := dial(t, url)

	unlock, err := a.LockContact(ctx, "ws", urn(1))
	require.NoError(t, err)

	// another contact, or the same number in another workspace, is another lock
	other, err := b.LockContact(ctx, "ws", urn(2))
	require.NoError(t, err)
	other()
	other, err = b.LockContact(ctx, "ws2", urn(1))
	require.NoError(t, err)
	other()

	// the same contact, on another channel, is held
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = b.LockContact(short, "ws", urn(1)+"?channel=8c1b1b1e-0bbf-4f2a-9f3a-1b2f0c7a2d11")
	cancel()
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	// a holder with another token can't release it
	key := a.keys.lock("ws", urn(1))
	token, err := redis.String(conn.Do("GET", key))
	require.NoError(t, err)
	released, err := redis.Int(releaseScript.Do(conn, key, "not-"+token))
	require.NoError(t, err)
	assert.Equal(t, 0, released)
	renewed, err := redis.Int(renewScript.Do(conn, key, "not-"+token, 60000))
	require.NoError(t, err)
	assert.Equal(t, 0, renewed)
	held, err := redis.String(conn.Do("GET", key))
	require.NoError(t, err)
	assert.Equal(t, token, held)

	// its holder can, once: a second unlock doesn't release a lock taken since
	unlock()
	exists, err := redis.Bool(conn.Do("EXISTS", key))
	require.NoError(t, err)
	assert.False(t, exists)

	wait, cancel := context.WithTimeout(ctx, eventually)
	defer cancel()
	unlockB, err := b.LockContact(wait, "ws", urn(1))
	require.NoError(t, err)
	unlock()
	exists, err = redis.Bool(conn.Do("EXISTS", key))
	require.NoError(t, err)
	assert.True(t, exists)
	unlockB()
}

func TestLockWaitHonoursContext(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	prefix := testPrefix(t, url)
	a := newCoordinator(t, url, &fakeLocker{}, WithPrefix(prefix))
	b := newCoordinator(t, url, &fakeLocker{}, WithPrefix(prefix))

	unlock, err := a.LockContact(context.Background(), "ws", urn(1))
	require.NoError(t, err)
	defer unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = b.LockContact(ctx, "ws", urn(1))
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = b.LockContact(ctx, "ws", urn(1))
	assert.ErrorIs(t, err, context.Canceled)

	_, err = b.LockContact(ctx, "ws", urn(2))
	assert.ErrorIs(t, err, context.Canceled, "a done context takes no lock")
}

// A holder that crashes, which closing its Coordinator simulates by stopping the watchdog without releasing, loses
// the lock when the TTL runs out; one that holds on keeps it well past the TTL.
func TestLockTTL(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	ctx := context.Background()
	prefix := testPrefix(t, url)
	const ttl = 2 * time.Second
	crashed := newCoordinator(t, url, &fakeLocker{}, WithPrefix(prefix), WithLockTTL(ttl))
	holding := newCoordinator(t, url, &fakeLocker{}, WithPrefix(prefix), WithLockTTL(ttl))
	other := newCoordinator(t, url, &fakeLocker{}, WithPrefix(prefix))
	conn := dial(t, url)

	_, err := crashed.LockContact(ctx, "ws", urn(1))
	require.NoError(t, err)
	unlock, err := holding.LockContact(ctx, "ws", urn(2))
	require.NoError(t, err)
	crashed.Close()

	left, err := redis.Int64(conn.Do("PTTL", crashed.keys.lock("ws", urn(1))))
	require.NoError(t, err)
	assert.Greater(t, left, int64(0))
	assert.LessOrEqual(t, left, ttl.Milliseconds())
	wait, cancel := context.WithTimeout(ctx, eventually)
	defer cancel()
	taken, err := other.LockContact(wait, "ws", urn(1))
	require.NoError(t, err, "a crashed holder's lock expires")
	taken()

	// the watchdog renewed the live holder's lock through two TTLs
	short, cancel := context.WithTimeout(ctx, 2*ttl)
	defer cancel()
	_, err = other.LockContact(short, "ws", urn(2))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	unlock()
	taken, err = other.LockContact(wait, "ws", urn(2))
	require.NoError(t, err)
	taken()
}
