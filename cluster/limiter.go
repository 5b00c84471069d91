package cluster

import "github.com/optout-dev/optout/whatsapp"

// SendLimiter returns what paces each business phone number's WhatsApp sends: a bucket in Redis, which every instance
// on it shares, so that together they keep to the number's throughput; or, without Redis, one of this process's own.
func (c *Coordinator) SendLimiter() whatsapp.Limiter {
	if c.pool == nil {
		return whatsapp.NewLocalLimiter()
	}
	return whatsapp.NewRedisLimiter(c.pool, c.settings.prefix)
}
