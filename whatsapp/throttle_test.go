package whatsapp_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
	"github.com/optout-dev/optout/whatsapp"
)

// grantsWithin runs workers goroutines that take slots of key from each of limiters in turn, as instances of the
// service sharing one phone number would, for window, and returns how many slots were granted within it.
func grantsWithin(t *testing.T, limiters []whatsapp.Limiter, key string, rate float64, workers int, window time.Duration) int {
	var granted atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(window)
	for w := range workers {
		wg.Go(func() {
			l := limiters[w%len(limiters)]
			for time.Now().Before(deadline) {
				if !assert.NoError(t, l.Wait(context.Background(), key, rate)) {
					return
				}
				if !time.Now().After(deadline) {
					granted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(granted.Load())
}

// assertGrants checks the slots granted in window at rate: a burst of a tenth of a second's worth, then rate a
// second. No more can ever be granted, as a slot is never granted before its time, and that is the bound that keeps
// Meta from answering 130429. The lower bound only catches a limiter far too slow: a machine busy with other work
// starves the workers of CPU and loses slots, so the pacing's accuracy is TestReserve's, exactly, and
// BenchmarkLimiterRate's, measured.
func assertGrants(t *testing.T, rate float64, window time.Duration, got int) {
	t.Helper()
	want := math.Ceil(rate/10) + rate*window.Seconds()
	t.Logf("granted %d in %s at %.0f/s: %.3f of %.0f", got, window, rate, float64(got)/want, want)
	assert.LessOrEqual(t, float64(got), want+1, "more than the rate")
	assert.GreaterOrEqual(t, float64(got), 0.5*want, "far less than the rate")
}

func TestLocalLimiterRate(t *testing.T) {
	l := whatsapp.NewLocalLimiter()
	assertGrants(t, 200, time.Second, grantsWithin(t, []whatsapp.Limiter{l}, "106540352242922", 200, 16, time.Second))
}

func TestLocalLimiterKeys(t *testing.T) {
	// each phone number has its own rate: the slow one doesn't hold back the fast one
	l := whatsapp.NewLocalLimiter()
	var a, b int
	var wg sync.WaitGroup
	wg.Go(func() { a = grantsWithin(t, []whatsapp.Limiter{l}, "phone-a", 100, 8, time.Second) })
	wg.Go(func() { b = grantsWithin(t, []whatsapp.Limiter{l}, "phone-b", 30, 8, time.Second) })
	wg.Wait()
	assertGrants(t, 100, time.Second, a)
	assertGrants(t, 30, time.Second, b)
}

func TestLimiterCancel(t *testing.T) {
	l := whatsapp.NewLocalLimiter()
	require.NoError(t, l.Wait(context.Background(), "k", 1)) // the burst of 1 a second

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	assert.ErrorIs(t, l.Wait(ctx, "k", 1), context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 500*time.Millisecond, "a cancelled Wait returns at once, not at its slot")

	for _, rate := range []float64{0, -80} {
		assert.EqualError(t, l.Wait(context.Background(), "k", rate),
			fmt.Sprintf("whatsapp: throughput must be a positive number of messages a second, not %v", rate))
	}
}

// redisPool returns a pool of its own on the Redis at url, as another instance of the service would have.
func redisPool(t testing.TB, url string) *redis.Pool {
	pool := &redis.Pool{
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			return redis.DialURLContext(ctx, url, redis.DialReadTimeout(time.Second), redis.DialWriteTimeout(time.Second))
		},
		MaxIdle: 16,
	}
	t.Cleanup(func() { pool.Close() })
	return pool
}

// testPrefix returns a key prefix of the test's own, whose keys are deleted when it ends.
func testPrefix(t testing.TB, url string) string {
	prefix := "optout-test:" + rand.Text()
	t.Cleanup(func() {
		conn, err := redis.DialURL(url)
		if err != nil {
			return
		}
		defer conn.Close()
		keys, _ := redis.Strings(conn.Do("KEYS", prefix+":*"))
		for _, key := range keys {
			conn.Do("DEL", key)
		}
	})
	return prefix
}

func TestRedisLimiterSharesOneRate(t *testing.T) {
	url := testenv.Redis(t)
	prefix := testPrefix(t, url)

	// three instances, each with its own pool and 8 workers, share one phone number's 150 a second
	var limiters []whatsapp.Limiter
	for range 3 {
		limiters = append(limiters, whatsapp.NewRedisLimiter(redisPool(t, url), prefix))
	}
	assertGrants(t, 150, time.Second, grantsWithin(t, limiters, "106540352242922", 150, 24, time.Second))
	for _, l := range limiters {
		assert.Zero(t, l.(*whatsapp.RedisLimiter).Fallbacks())
	}

	// the bucket is one key, which expires once it is full again
	conn, err := redis.DialURL(url)
	require.NoError(t, err)
	defer conn.Close()
	keys, err := redis.Strings(conn.Do("KEYS", prefix+":*"))
	require.NoError(t, err)
	assert.Equal(t, []string{prefix + ":throttle:106540352242922"}, keys)
	ttl, err := redis.Int64(conn.Do("PTTL", keys[0]))
	require.NoError(t, err)
	assert.Greater(t, ttl, int64(0))
	assert.LessOrEqual(t, ttl, int64(2000))
}

func TestRedisLimiterFallsBack(t *testing.T) {
	server := testenv.StartRedis(t)
	l := whatsapp.NewRedisLimiter(redisPool(t, server.URL()), "optout-test")
	require.NoError(t, l.Wait(context.Background(), "k", 100))
	assert.Zero(t, l.Fallbacks())

	server.Kill()
	granted := grantsWithin(t, []whatsapp.Limiter{l}, "k", 100, 16, time.Second)
	assertGrants(t, 100, time.Second, granted)
	assert.GreaterOrEqual(t, l.Fallbacks(), uint64(granted), "every Wait paced by the process alone")

	// a Wait cancelled while Redis fails returns its context's error, not Redis's
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, l.Wait(ctx, "k", 100), context.Canceled)
}

// BenchmarkLimiterRate paces b.N sends at 1,000 a second (an upgraded number's throughput) from 16 goroutines and
// reports the rate measured over the ones after the burst as a ratio of the configured one (rate-ratio, 1 is exact),
// and what a Wait costs at a rate that never waits (ns/op of the unlimited runs).
func BenchmarkLimiterRate(b *testing.B) {
	limiters := map[string]func(b *testing.B) whatsapp.Limiter{
		"local": func(*testing.B) whatsapp.Limiter { return whatsapp.NewLocalLimiter() },
		"redis": func(b *testing.B) whatsapp.Limiter {
			url := testenv.Redis(b)
			return whatsapp.NewRedisLimiter(redisPool(b, url), testPrefix(b, url))
		},
	}
	for name, newLimiter := range limiters {
		b.Run(name+"/paced", func(b *testing.B) {
			const rate = 1000.0
			l := newLimiter(b)
			var mu sync.Mutex
			times := make([]time.Time, 0, b.N)
			b.SetParallelism(8) // several sends in flight, as the outbox worker keeps them
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Wait(context.Background(), "phone", rate); err != nil {
						b.Error(err)
						return
					}
					mu.Lock()
					times = append(times, time.Now())
					mu.Unlock()
				}
			})
			slices.SortFunc(times, time.Time.Compare)
			if steady := times[min(int(rate/10), len(times)):]; len(steady) > 1 {
				measured := float64(len(steady)-1) / steady[len(steady)-1].Sub(steady[0]).Seconds()
				b.ReportMetric(measured/rate, "rate-ratio")
			}
		})
		b.Run(name+"/unlimited", func(b *testing.B) {
			l := newLimiter(b)
			for b.Loop() {
				if err := l.Wait(context.Background(), "phone", 1e9); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
