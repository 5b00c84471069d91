package cluster

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	_, err := New("http://localhost:6379", &fakeLocker{}, nil)
	assert.EqualError(t, err, `cluster: "http://localhost:6379" is not a redis:// or rediss:// URL`)

	_, err = New("", nil, nil)
	assert.EqualError(t, err, "cluster: a fallback locker is required")

	// a Redis that isn't there yet is no error: the Coordinator starts down
	var dialer countingDialer
	c, err := New("redis://127.0.0.1:1", &fakeLocker{}, slog.New(slog.DiscardHandler), WithDialer(dialer.dial))
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, int64(1), dialer.attempts.Load())
	assert.False(t, c.Available())
	unlock, err := c.LockContact(context.Background(), "ws", urn(1))
	require.NoError(t, err)
	unlock()
	assert.Equal(t, int64(1), dialer.attempts.Load(), "calls don't try a Redis that is down")
}

func TestWithoutRedis(t *testing.T) {
	ctx := context.Background()
	locker := &fakeLocker{}
	c := newCoordinator(t, "", locker)

	unlock, err := c.LockContact(ctx, "ws", urn(1))
	require.NoError(t, err)
	unlock()
	assert.Equal(t, int64(1), locker.calls.Load(), "the fallback locks")

	assert.False(t, c.Available())

	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(eventually):
		t.Fatal("Run without Redis didn't return")
	}
	assert.NoError(t, c.Close())
}

func TestKeys(t *testing.T) {
	k := keys("optout")

	assert.Equal(t, "optout:lock:ws:whatsapp%3A5511999", k.lock("ws", "whatsapp:5511999"))
	assert.Equal(t, k.lock("ws", "whatsapp:5511999"), k.lock("ws", "whatsapp:5511999?channel=abc#Ana"), "a contact has one lock whatever its channel")
	assert.NotEqual(t, k.lock("a:b", "tel:1"), k.lock("a", "b:tel:1"))
	assert.NotEqual(t, k.lock("a b", "tel:1"), k.lock("a+b", "tel:1"))
}
