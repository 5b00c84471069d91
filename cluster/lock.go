package cluster

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/nyaruka/gocommon/urns"
)

// How long LockContact waits between tries while another holds the lock: growing, so that a long wait costs Redis
// little, and jittered, so that waiters don't all try at once when the lock is released.
const (
	firstWait = 5 * time.Millisecond
	maxWait   = 100 * time.Millisecond
)

// renewScript extends a lock's expiry while it holds the caller's token, so that a renewal can't extend a lock that
// expired and was taken by another.
var renewScript = redis.NewScript(1, `
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// releaseScript deletes a key while it holds the caller's token, so that a holder never releases another's lock.
var releaseScript = redis.NewScript(1, `
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// LockContact holds the contact's lock until unlock is called, waiting until ctx is done while another holds it.
// The lock is a Redis key holding a token of this holder's, which a watchdog renews while it is held, so that a long
// operation keeps it and a crashed holder loses it within the lock TTL. When Redis is not configured or not
// answering, it is the fallback Locker's lock instead.
func (c *Coordinator) LockContact(ctx context.Context, workspace string, urn urns.URN) (func(), error) {
	key := c.keys.lock(workspace, urn)
	token := rand.Text()
	wait := firstWait
	for {
		acquired := false
		err := c.do(ctx, func(conn redis.Conn) error {
			_, err := redis.String(redis.DoContext(conn, ctx, "SET", key, token, "NX", "PX", c.settings.lockTTL.Milliseconds()))
			if err == redis.ErrNil {
				return nil // another holds it
			}
			acquired = err == nil
			return err
		})
		if acquired {
			return c.hold(key, token), nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("waiting for the lock on %s: %w", urn, ctx.Err())
		}
		if err != nil {
			return c.fallback.LockContact(ctx, workspace, urn)
		}

		timer := time.NewTimer(wait/2 + mrand.N(wait))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("waiting for the lock on %s: %w", urn, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// hold starts the watchdog of a lock just taken and returns its unlock, which stops the watchdog before releasing
// the lock, so that no renewal follows the release. Calling unlock again does nothing.
func (c *Coordinator) hold(key, token string) func() {
	stop, stopped := make(chan struct{}), make(chan struct{})
	go c.watch(key, token, stop, stopped)

	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-stopped

			// a lock that can't be released, Redis being down, expires within its TTL
			ctx, cancel := context.WithTimeout(context.Background(), c.settings.timeout)
			defer cancel()
			c.do(ctx, func(conn redis.Conn) error {
				_, err := releaseScript.DoContext(ctx, conn, key, token)
				return err
			})
		})
	}
}

// watch renews the lock every third of its TTL until stop is closed or the Coordinator is. It keeps trying through
// a Redis outage, since a Redis that comes back before the TTL still holds the lock, and gives up when the lock is
// no longer this holder's.
func (c *Coordinator) watch(key, token string, stop, stopped chan struct{}) {
	defer close(stopped)
	ticker := time.NewTicker(c.settings.lockTTL / 3)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-c.closed:
			return
		case <-ticker.C:
		}

		ctx, cancel := context.WithTimeout(context.Background(), c.settings.timeout)
		renewed := true
		err := c.do(ctx, func(conn redis.Conn) error {
			n, err := redis.Int(renewScript.DoContext(ctx, conn, key, token, c.settings.lockTTL.Milliseconds()))
			renewed = n == 1
			return err
		})
		cancel()
		if err == nil && !renewed {
			c.log.Warn("lost a contact's lock before releasing it", "key", key)
			return
		}
	}
}
