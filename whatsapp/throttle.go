package whatsapp

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomodule/redigo/redis"
)

// DefaultThroughput is the messages a second Meta lets a business phone number send by default (Cloud API
// throughput; a number can be upgraded to 1,000). Going faster earns 130429 errors.
const DefaultThroughput = 80

// Limiter paces the sends of each business phone number: Wait returns when the next send of key (its phone number
// ID) may go at rate sends a second, or when ctx is done.
type Limiter interface {
	Wait(ctx context.Context, key string, rate float64) error
}

var (
	_ Limiter = (*LocalLimiter)(nil)
	_ Limiter = (*RedisLimiter)(nil)
)

// Both limiters are token buckets run as GCRA (the generic cell rate algorithm): a bucket is one time, the theoretical
// arrival time (TAT) at which it would be empty, which a send reserves forward by one interval (1/rate). A send may go
// once the TAT it reserved is at most burst intervals ahead of now, so after an idle spell burst sends go at once and
// the rest follow one interval apart. Keeping one number per bucket is what makes the Redis one a single atomic step.
//
// A Wait reserves its slot before it sleeps, so waiters are served in the order they came, and a Wait whose ctx ends
// while it sleeps gives its slot up: the bucket then runs below its rate for that one slot, never above it.

// burst returns how many sends may go at once after an idle spell: a tenth of a second's worth, so that a queue that
// fills at once doesn't reach Meta as one spike, and at least one.
func burst(rate float64) int { return max(1, int(math.Ceil(rate/10))) }

// interval returns the time between sends at rate, in whole microseconds, the unit of the Redis bucket.
func interval(rate float64) (time.Duration, error) {
	if !(rate > 0) || math.IsInf(rate, 1) {
		return 0, fmt.Errorf("whatsapp: throughput must be a positive number of messages a second, not %v", rate)
	}
	return max(time.Microsecond, time.Duration(float64(time.Second)/rate).Round(time.Microsecond)), nil
}

// reserve takes a slot from a bucket whose TAT is tat: it returns the bucket's new TAT and how long after now the
// slot comes.
func reserve(tat, now time.Time, interval time.Duration, burst int) (time.Time, time.Duration) {
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	return next, max(0, next.Add(-time.Duration(burst)*interval).Sub(now))
}

// LocalLimiter paces the sends of one process.
type LocalLimiter struct {
	mu   sync.Mutex
	tats map[string]time.Time // one per phone number that ever sent, which is a handful
}

// NewLocalLimiter returns a limiter of the process's own.
func NewLocalLimiter() *LocalLimiter { return &LocalLimiter{tats: map[string]time.Time{}} }

// Wait waits for key's next slot at rate sends a second.
func (l *LocalLimiter) Wait(ctx context.Context, key string, rate float64) error {
	every, err := interval(rate)
	if err != nil {
		return err
	}
	l.mu.Lock()
	tat, wait := reserve(l.tats[key], time.Now(), every, burst(rate))
	l.tats[key] = tat
	l.mu.Unlock()
	return sleep(ctx, wait)
}

// throttleScript reserves a slot of the bucket KEYS[1] at an interval of ARGV[1] microseconds with a burst of ARGV[2]
// sends, and returns how many microseconds the slot is from now. It reads the time from Redis, so that instances
// whose clocks disagree still share one rate, and lets the key expire once the bucket is full again.
var throttleScript = redis.NewScript(1, `
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5 needs it to write after TIME
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local reserved = tat + interval
redis.call('SET', KEYS[1], string.format('%d', reserved), 'PX', math.ceil((reserved - now) / 1000) + 1000)
local wait = reserved - tonumber(ARGV[2]) * interval - now
if wait < 0 then wait = 0 end
return wait`)

// RedisLimiter paces the sends of every instance that shares its Redis and prefix, one bucket per key. When Redis
// fails it paces this process alone, so that an outage slows nothing down: the instances together may then go faster
// than the rate, and Meta's 130429 answers, which are retried, tell them so.
type RedisLimiter struct {
	pool      *redis.Pool
	prefix    string
	local     *LocalLimiter
	fallbacks atomic.Uint64
}

// NewRedisLimiter returns a limiter on the Redis of pool, whose keys start with prefix.
func NewRedisLimiter(pool *redis.Pool, prefix string) *RedisLimiter {
	return &RedisLimiter{pool: pool, prefix: prefix, local: NewLocalLimiter()}
}

// Wait waits for key's next slot at rate sends a second, as reserved in Redis, or as this process paces it when
// Redis fails.
func (l *RedisLimiter) Wait(ctx context.Context, key string, rate float64) error {
	every, err := interval(rate)
	if err != nil {
		return err
	}
	wait, err := l.reserve(ctx, key, every, burst(rate))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.fallbacks.Add(1)
		return l.local.Wait(ctx, key, rate)
	}
	return sleep(ctx, wait)
}

// Fallbacks returns how many Waits paced this process alone because Redis failed.
func (l *RedisLimiter) Fallbacks() uint64 { return l.fallbacks.Load() }

func (l *RedisLimiter) reserve(ctx context.Context, key string, every time.Duration, burst int) (time.Duration, error) {
	conn, err := l.pool.GetContext(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	micros, err := redis.Int64(throttleScript.DoContext(ctx, conn, l.prefix+":throttle:"+url.QueryEscape(key), every.Microseconds(), burst))
	return time.Duration(micros) * time.Microsecond, err
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
