package cluster

import (
	"context"
	"time"

	"github.com/gomodule/redigo/redis"
)

// responseTTL is how long the answer to a message is cached: longer than channels keep retrying a message.
const responseTTL = 24 * time.Hour

// Response returns the answer cached for the message with the UUID, and whether there was one. The store's record of
// processed messages stays the authority, so a miss, with or without Redis, only means asking the store.
func (c *Coordinator) Response(ctx context.Context, workspace string, msg string) ([]byte, bool) {
	var response []byte
	err := c.do(ctx, func(conn redis.Conn) error {
		var err error
		response, err = redis.Bytes(redis.DoContext(conn, ctx, "GET", c.keys.response(workspace, msg)))
		if err == redis.ErrNil {
			return nil
		}
		return err
	})
	return response, err == nil && response != nil
}

// RememberResponse caches the answer to the message with the UUID, after the store committed it.
func (c *Coordinator) RememberResponse(ctx context.Context, workspace string, msg string, response []byte) {
	c.do(ctx, func(conn redis.Conn) error {
		_, err := redis.DoContext(conn, ctx, "SET", c.keys.response(workspace, msg), response, "EX", int(responseTTL.Seconds()))
		return err
	})
}
