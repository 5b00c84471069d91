package cluster

import (
	"context"
	"github.com/optout-dev/optout/internal/testenv"
	"testing"

	"github.com/gomodule/redigo/redis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResponses(t *testing.T) {
	url := testenv.Redis(t)
	t.Parallel()
	ctx := context.Background()
	prefix := testPrefix(t, url)
	a := newCoordinator(t, url, &fakeLocker{}, WithPrefix(prefix))
	b := newCoordinator(t, url, &fakeLocker{}, WithPrefix(prefix))

	_, ok := b.Response(ctx, "ws", "5f3a1c1e-7d5e-4d0a-9b7e-2f0f6c1d2e3a")
	assert.False(t, ok)

	a.RememberResponse(ctx, "ws", "5f3a1c1e-7d5e-4d0a-9b7e-2f0f6c1d2e3a", []byte(`{"status":"opted_out"}`))
	response, ok := b.Response(ctx, "ws", "5f3a1c1e-7d5e-4d0a-9b7e-2f0f6c1d2e3a")
	assert.True(t, ok)
	assert.Equal(t, `{"status":"opted_out"}`, string(response))

	_, ok = b.Response(ctx, "ws2", "5f3a1c1e-7d5e-4d0a-9b7e-2f0f6c1d2e3a")
	assert.False(t, ok, "another workspace's message")

	// a caller that gave up doesn't make Redis look down
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, ok = b.Response(canceled, "ws", "5f3a1c1e-7d5e-4d0a-9b7e-2f0f6c1d2e3a")
	assert.False(t, ok)
	_, ok = b.Response(ctx, "ws", "5f3a1c1e-7d5e-4d0a-9b7e-2f0f6c1d2e3a")
	assert.True(t, ok)

	ttl, err := redis.Int(dial(t, url).Do("TTL", a.keys.response("ws", "5f3a1c1e-7d5e-4d0a-9b7e-2f0f6c1d2e3a")))
	require.NoError(t, err)
	assert.Greater(t, ttl, 86000)
	assert.LessOrEqual(t, ttl, 86400)
}
