// Package cluster is what several instances of the service share through Redis: a lock per contact, so that no two
// instances handle one contact's messages at once, and the answers given to processed messages, so that a retried
// message is answered without reading the store.
//
// Redis is optional and may go away at any time. Without it, locks are the store's and an answer is a miss that sends
// the caller to the store. Nothing that decides what a contact may be sent is kept here: consent is read from the
// store, its only truth, so that a change made by any writer (another instance, an import run without Redis, a
// future channel) is seen by the next decision, with no cache to tell.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/nyaruka/gocommon/urns"
)

// Locker is the lock of last resort: store.Store's LockContact, in-process on SQLite and a PostgreSQL advisory lock
// on PostgreSQL. It is used whenever Redis is not configured or not answering.
type Locker interface {
	LockContact(ctx context.Context, workspace string, urn urns.URN) (unlock func(), err error)
}

// Coordinator is one instance's view of what the instances share. Its methods are safe for concurrent use.
type Coordinator struct {
	pool     *redis.Pool // nil without Redis
	fallback Locker
	log      *slog.Logger
	keys     keys
	settings settings
	health   health

	closed    chan struct{} // closed by Close, stops the lock watchdogs and Run
	closeOnce sync.Once
}

type settings struct {
	prefix   string
	timeout  time.Duration
	lockTTL  time.Duration
	interval time.Duration
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Option changes one of a Coordinator's settings from its default.
type Option func(*settings)

// WithPrefix sets the prefix of every key, "optout" by default, for deployments or tests that share a Redis.
func WithPrefix(prefix string) Option { return func(s *settings) { s.prefix = prefix } }

// WithTimeout sets the connect, read and write timeout of Redis calls, 1s by default: short, so that a Redis that
// stopped answering costs a request little before the Coordinator stops trying it.
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithLockTTL sets how long a contact's lock outlives a holder that stopped renewing it, 10s by default.
func WithLockTTL(d time.Duration) Option { return func(s *settings) { s.lockTTL = d } }

// WithInterval sets how often Run checks Redis, 1s by default, hence how long calls skip Redis after it failed.
func WithInterval(d time.Duration) Option { return func(s *settings) { s.interval = d } }

// WithDialer sets how connections to Redis are made, instead of net.Dialer.
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(s *settings) { s.dial = dial }
}

// New returns a Coordinator for the Redis at url, or one without Redis if url is empty. A Redis that doesn't answer
// yet is not an error: the Coordinator falls back until Run finds it answering. Run must run for Redis to be used
// again after any failure.
//
// Redis must not evict keys (maxmemory-policy noeviction, the default): an evicted lock would let two instances
// handle one contact at once.
func New(url string, fallback Locker, log *slog.Logger, opts ...Option) (*Coordinator, error) {
	if fallback == nil {
		return nil, errors.New("cluster: a fallback locker is required")
	}
	if log == nil {
		log = slog.Default()
	}
	s := settings{prefix: "optout", timeout: time.Second, lockTTL: 10 * time.Second, interval: time.Second}
	for _, opt := range opts {
		opt(&s)
	}
	c := &Coordinator{
		fallback: fallback,
		log:      log,
		keys:     keys(s.prefix),
		settings: s,
		health:   health{up: true},
		closed:   make(chan struct{}),
	}
	if url == "" {
		return c, nil
	}

	if err := CheckURL(url); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	dialOpts := []redis.DialOption{redis.DialReadTimeout(s.timeout), redis.DialWriteTimeout(s.timeout)}
	if s.dial != nil {
		dialOpts = append(dialOpts, redis.DialContextFunc(s.dial))
	}
	c.pool = &redis.Pool{
		DialContext: func(ctx context.Context) (redis.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, s.timeout) // covers a custom dialer too
			defer cancel()
			return redis.DialURLContext(ctx, url, dialOpts...)
		},
		MaxIdle:     32,
		IdleTimeout: time.Minute,
	}

	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := c.ping(ctx); err != nil {
		c.wentDown(err)
	}
	return c, nil
}

// CheckURL says what is wrong with a Redis URL as a user gives it, without repeating its password; an empty one is no
// Redis and fine.
func CheckURL(url string) error {
	if url == "" {
		return nil
	}
	u, err := neturl.Parse(url)
	if err != nil || u.Scheme == "" {
		return errors.New("is not a Redis URL: give one such as redis://HOST:6379")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Errorf("%q is not a redis:// or rediss:// URL", u.Redacted())
	}
	return nil
}

// Close stops the lock watchdogs, so that locks still held expire as a crashed instance's would, and Run, and closes
// the connections to Redis.
func (c *Coordinator) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	if c.pool == nil {
		return nil
	}
	return c.pool.Close()
}
