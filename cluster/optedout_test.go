package cluster

import (
	"context"
	"github.com/optout-dev/optout/internal/testenv"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/store"
)

func TestOptedOut(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	ctx := context.Background()
	prefix := testPrefix(t, url)
	source := &fakeSource{}
	source.set("ws", urn(1), true)
	source.set("ws", urn(2), false)
	a := newCoordinator(t, url, &fakeLocker{}, source, WithPrefix(prefix))
	b := newCoordinator(t, url, &fakeLocker{}, source, WithPrefix(prefix))
	conn := dial(t, url)
	live, _, _, _ := a.keys.optedOut("ws")
	batch := []urns.URN{urn(1), urn(2), urn(3) + "?channel=8c1b1b1e-0bbf-4f2a-9f3a-1b2f0c7a2d11"}

	// a set that was never built isn't trusted, even with writes in it
	_, ok := a.OptedOut(ctx, "ws", batch)
	assert.False(t, ok)
	a.SetOptedOut(ctx, "ws", urn(3), true)
	_, ok = a.OptedOut(ctx, "ws", batch)
	assert.False(t, ok)

	// a rebuild replaces it with the store's and marks it complete, for every instance
	rebuilt, err := a.rebuild(ctx, "ws")
	require.NoError(t, err)
	assert.True(t, rebuilt)
	assert.Equal(t, []string{"complete", string(urn(1))}, setMembers(t, conn, live))
	ttl, err := redis.Int(conn.Do("TTL", live))
	require.NoError(t, err)
	assert.Equal(t, -1, ttl, "the live set doesn't expire")
	optedOut, ok := b.OptedOut(ctx, "ws", batch)
	assert.True(t, ok)
	assert.Equal(t, []bool{true, false, false}, optedOut)

	optedOut, ok = b.OptedOut(ctx, "ws", nil)
	assert.True(t, ok)
	assert.Empty(t, optedOut)

	// writes keep it complete
	source.set("ws", urn(2), true)
	b.SetOptedOut(ctx, "ws", urn(2), true)
	source.set("ws", urn(1), false)
	b.SetOptedOut(ctx, "ws", urn(1)+"?channel=8c1b1b1e-0bbf-4f2a-9f3a-1b2f0c7a2d11", false)
	optedOut, ok = a.OptedOut(ctx, "ws", batch)
	assert.True(t, ok)
	assert.Equal(t, []bool{false, true, false}, optedOut)

	// another workspace's set is another set
	_, ok = a.OptedOut(ctx, "ws2", batch)
	assert.False(t, ok)

	// invalidating it leaves it untrusted in every instance until it is rebuilt
	b.Invalidate(ctx, "ws")
	_, ok = a.OptedOut(ctx, "ws", batch)
	assert.False(t, ok)
	rebuilt, err = a.rebuild(ctx, "ws")
	require.NoError(t, err)
	assert.True(t, rebuilt)
	optedOut, ok = b.OptedOut(ctx, "ws", batch)
	assert.True(t, ok)
	assert.Equal(t, []bool{false, true, false}, optedOut)

	// a write that fails while Redis answers, here because its caller gave up, leaves the set untrusted by its
	// instance until its next check invalidates and rebuilds it
	a.check(ctx)
	require.True(t, a.Available())
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	source.set("ws", urn(3), true)
	a.SetOptedOut(canceled, "ws", urn(3), true)
	_, ok = a.OptedOut(ctx, "ws", batch)
	assert.False(t, ok)
	assert.False(t, a.Available())
	a.check(ctx)
	assert.True(t, a.Available())
	optedOut, ok = b.OptedOut(ctx, "ws", batch)
	assert.True(t, ok)
	assert.Equal(t, []bool{false, true, true}, optedOut)
}

func TestRebuild(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	ctx := context.Background()
	prefix := testPrefix(t, url)
	source := &fakeSource{}
	const optedOut = 2*pageSize + 1
	for i := range optedOut + 100 {
		source.set("ws", urn(i), i < optedOut)
	}
	source.set("ws:2", urn(1), true)
	source.set("empty", urn(1), false)
	a := newCoordinator(t, url, &fakeLocker{}, source, WithPrefix(prefix))
	b := newCoordinator(t, url, &fakeLocker{}, source, WithPrefix(prefix))
	conn := dial(t, url)

	// one instance's rebuild keeps another's from starting
	_, _, _, rebuilding := a.keys.optedOut("ws")
	_, err := conn.Do("SET", rebuilding, "another", "PX", 60000)
	require.NoError(t, err)
	rebuilt, err := b.rebuild(ctx, "ws")
	require.NoError(t, err)
	assert.False(t, rebuilt)
	_, err = conn.Do("DEL", rebuilding)
	require.NoError(t, err)

	// Run's check rebuilds every workspace's set, the large one in pages
	assert.False(t, a.Available())
	a.check(ctx)
	assert.True(t, a.Available())
	assert.Equal(t, int64(4+2+1), source.pages.Load(), "three pages and an empty one, one and an empty one, an empty one")

	live, _, _, _ := a.keys.optedOut("ws")
	size, err := redis.Int(conn.Do("SCARD", live))
	require.NoError(t, err)
	assert.Equal(t, optedOut+1, size)
	got, ok := b.OptedOut(ctx, "ws", []urns.URN{urn(0), urn(pageSize), urn(optedOut - 1), urn(optedOut), urn(optedOut + 99)})
	assert.True(t, ok)
	assert.Equal(t, []bool{true, true, true, false, false}, got)
	got, ok = b.OptedOut(ctx, "ws:2", []urns.URN{urn(0), urn(1)})
	assert.True(t, ok)
	assert.Equal(t, []bool{false, true}, got)
	got, ok = b.OptedOut(ctx, "empty", []urns.URN{urn(1)})
	assert.True(t, ok)
	assert.Equal(t, []bool{false}, got)

	// complete sets aren't rebuilt again; an invalidated one is
	b.check(ctx)
	assert.Equal(t, int64(7), source.pages.Load())
	assert.True(t, b.Available())
	a.Invalidate(ctx, "ws:2")
	assert.False(t, a.Available())
	b.check(ctx)
	assert.Equal(t, int64(9), source.pages.Load())
	a.check(ctx)
	assert.True(t, a.Available())
}

// Writes that race a rebuild, in the order that loses them unless the rebuild sees them: the store commits a change
// after the rebuild read the contact's page and before the rebuild added that page to its set.
func TestRebuildRacesWrites(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	ctx := context.Background()
	prefix := testPrefix(t, url)
	source := &fakeSource{}
	source.set("ws", urn(1), true)
	source.set("ws", urn(2), false)
	source.set("ws", urn(3), true)
	rebuilder := newCoordinator(t, url, &fakeLocker{}, source, WithPrefix(prefix))
	writer := newCoordinator(t, url, &fakeLocker{}, source, WithPrefix(prefix))
	batch := []urns.URN{urn(1), urn(2), urn(3)}

	var once sync.Once
	source.afterPage = func(ws string, page []*store.Contact) {
		once.Do(func() {
			// the page has urn(1) opted out and not urn(2), and both change now
			source.set("ws", urn(1), false)
			writer.SetOptedOut(ctx, "ws", urn(1), false)
			source.set("ws", urn(2), true)
			writer.SetOptedOut(ctx, "ws", urn(2), true)
		})
	}
	rebuilt, err := rebuilder.rebuild(ctx, "ws")
	require.NoError(t, err)
	assert.True(t, rebuilt)
	optedOut, ok := writer.OptedOut(ctx, "ws", batch)
	assert.True(t, ok)
	assert.Equal(t, []bool{false, true, true}, optedOut)

	// a set invalidated while it is rebuilt, after a change that the rebuild read before, isn't marked complete,
	// whether the rebuild has a page to add after the invalidation or only has to finish
	for i, last := range []bool{false, true} {
		once = sync.Once{}
		source.afterPage = func(ws string, page []*store.Contact) {
			if (len(page) == 0) == last {
				once.Do(func() {
					source.set("ws", urn(3), i == 0) // an import, say, that doesn't write to Redis
					writer.Invalidate(ctx, "ws")
				})
			}
		}
		rebuilt, err = rebuilder.rebuild(ctx, "ws")
		require.NoError(t, err)
		assert.False(t, rebuilt)
		_, ok = writer.OptedOut(ctx, "ws", batch)
		assert.False(t, ok)

		source.afterPage = nil
		rebuilt, err = rebuilder.rebuild(ctx, "ws")
		require.NoError(t, err)
		assert.True(t, rebuilt)
		optedOut, ok = writer.OptedOut(ctx, "ws", batch)
		assert.True(t, ok)
		assert.Equal(t, []bool{false, true, i == 0}, optedOut)
	}
}

// A rebuild whose set was invalidated while it read a page, and that another rebuild took over, doesn't add that
// page, read before the change that invalidated it, to the other's set.
func TestRebuildTakenOver(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	ctx := context.Background()
	prefix := testPrefix(t, url)
	source := &fakeSource{}
	source.set("ws", urn(1), true)
	first := newCoordinator(t, url, &fakeLocker{}, source, WithPrefix(prefix))
	second := newCoordinator(t, url, &fakeLocker{}, source, WithPrefix(prefix))

	var calls atomic.Int64
	secondRead, firstDone := make(chan struct{}), make(chan struct{})
	secondRebuilt := make(chan bool)
	source.afterPage = func(ws string, page []*store.Contact) {
		switch calls.Add(1) {
		case 1: // the first rebuild read urn(1) opted out
			source.set("ws", urn(1), false)
			second.Invalidate(ctx, "ws")
			go func() {
				rebuilt, err := second.rebuild(ctx, "ws")
				assert.NoError(t, err)
				secondRebuilt <- rebuilt
			}()
			<-secondRead
		case 2: // the second read it opted in, and waits for the first to add its page
			close(secondRead)
			<-firstDone
		}
	}
	rebuilt, err := first.rebuild(ctx, "ws")
	require.NoError(t, err)
	assert.False(t, rebuilt)
	close(firstDone)
	assert.True(t, <-secondRebuilt)

	optedOut, ok := first.OptedOut(ctx, "ws", []urns.URN{urn(1)})
	assert.True(t, ok)
	assert.Equal(t, []bool{false}, optedOut)
}

// Many writers in two instances flip contacts' statuses, each under the contact's lock as the service does, while a
// third instance invalidates and rebuilds the set over and over. Once the writers stop, the set, complete since the
// last rebuild, which ran while they wrote, is exactly the store's.
func TestRebuildRacesWritesConcurrently(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	ctx := context.Background()
	prefix := testPrefix(t, url)
	source := &fakeSource{}
	const contacts = 200
	for i := range contacts {
		source.set("ws", urn(i), i%2 == 0)
	}
	source.afterPage = func(string, []*store.Contact) { time.Sleep(rand.N(3 * time.Millisecond)) }
	locker := &fakeLocker{}
	rebuilder := newCoordinator(t, url, locker, source, WithPrefix(prefix))
	writers := []*Coordinator{
		newCoordinator(t, url, locker, source, WithPrefix(prefix)),
		newCoordinator(t, url, locker, source, WithPrefix(prefix)),
	}

	var stop atomic.Bool
	var writes atomic.Int64
	var wg sync.WaitGroup
	for i := range 6 {
		w := writers[i%len(writers)]
		wg.Go(func() {
			for !stop.Load() {
				u := urn(rand.N(contacts))
				unlock, err := w.LockContact(ctx, "ws", u)
				if !assert.NoError(t, err) {
					return
				}
				optedOut := rand.N(2) == 0
				source.set("ws", u, optedOut)
				w.SetOptedOut(ctx, "ws", u, optedOut)
				unlock()
				writes.Add(1)
			}
		})
	}

	rebuilds := 0
	for rebuilds < 25 {
		rebuilder.Invalidate(ctx, "ws")
		rebuilt, err := rebuilder.rebuild(ctx, "ws")
		require.NoError(t, err)
		if rebuilt {
			rebuilds++
		}
	}
	since := writes.Load()
	require.Eventually(t, func() bool { return writes.Load() > since+100 }, eventually, time.Millisecond, "writes after the last rebuild")
	stop.Store(true)
	wg.Wait()

	batch := make([]urns.URN, contacts)
	for i := range batch {
		batch[i] = urn(i)
	}
	optedOut, ok := rebuilder.OptedOut(ctx, "ws", batch)
	require.True(t, ok)
	var got []string
	for i, out := range optedOut {
		if out {
			got = append(got, string(batch[i]))
		}
	}
	assert.Equal(t, source.optedOut("ws"), got)
	t.Logf("%d writes around %d rebuilds", writes.Load(), rebuilds)
}
