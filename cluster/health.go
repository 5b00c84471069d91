package cluster

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
)

var (
	errNoRedis = errors.New("redis is not configured")
	errDown    = errors.New("redis is not answering")
	errClosed  = errors.New("coordinator is closed")
)

// health is what an instance knows about Redis. It is a circuit breaker: after a call fails to reach Redis, calls
// don't try it (nor dial it) until Run's next check finds it answering, so a dead Redis costs one timeout per
// check interval rather than one per call.
type health struct {
	mu sync.Mutex
	up bool
}

// do runs f on a connection, unless Redis is not configured or known to be down. A failure to reach Redis opens the
// breaker; an error that Redis replied, or the caller's context ending, doesn't.
func (c *Coordinator) do(ctx context.Context, f func(conn redis.Conn) error) error {
	if c.pool == nil {
		return errNoRedis
	}
	select {
	case <-c.closed:
		return errClosed
	default:
	}
	c.health.mu.Lock()
	up := c.health.up
	c.health.mu.Unlock()
	if !up {
		return errDown
	}

	conn, err := c.pool.GetContext(ctx)
	if err == nil {
		err = f(conn)
		conn.Close()
	}
	var reply redis.Error
	switch {
	case err == nil || ctx.Err() != nil:
	case errors.As(err, &reply):
		c.log.Error("redis refused a command", "error", err)
	default:
		c.wentDown(err)
	}
	return err
}

// Run checks Redis every interval until ctx is done or the Coordinator is closed, and closes the breaker when Redis
// answers again. Without Redis it returns at once.
func (c *Coordinator) Run(ctx context.Context) {
	if c.pool == nil {
		return
	}
	ticker := time.NewTicker(c.settings.interval)
	defer ticker.Stop()
	for {
		c.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-c.closed:
			return
		case <-ticker.C:
		}
	}
}

// Available says whether Redis answers, as of the last call or check.
func (c *Coordinator) Available() bool {
	c.health.mu.Lock()
	defer c.health.mu.Unlock()
	return c.pool != nil && c.health.up
}

// check is Run's work for one interval.
func (c *Coordinator) check(ctx context.Context) {
	probe, cancel := context.WithTimeout(ctx, c.settings.timeout)
	err := c.ping(probe)
	cancel()
	if err != nil {
		c.wentDown(err)
		return
	}
	c.cameUp()
}

// ping asks Redis whether it answers, bypassing the breaker: it is the breaker's probe.
func (c *Coordinator) ping(ctx context.Context) error {
	conn, err := c.pool.GetContext(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = redis.DoContext(conn, ctx, "PING")
	return err
}

func (c *Coordinator) wentDown(err error) {
	c.health.mu.Lock()
	defer c.health.mu.Unlock()
	if c.health.up {
		c.log.Warn("redis is not answering, falling back to the store", "error", err)
	}
	c.health.up = false
}

func (c *Coordinator) cameUp() {
	c.health.mu.Lock()
	defer c.health.mu.Unlock()
	if !c.health.up {
		c.log.Info("redis is answering again")
	}
	c.health.up = true
}
