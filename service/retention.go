package service

import (
	"context"
	"time"

	"github.com/optout-dev/optout/store"
)

// Retention is how long what is kept for a while only is kept. The consent audit log is kept for ever.
type Retention struct {
	Answers time.Duration // processed messages' answers, which a message sent again gets
	Done    time.Duration // delivered webhook events and their attempts, and messages WhatsApp took
}

// DefaultRetention keeps answers a week, longer than any channel retries a message, and what was done a month.
var DefaultRetention = Retention{Answers: 7 * 24 * time.Hour, Done: 30 * 24 * time.Hour}

// inboxRetention is how long WhatsApp events acted on are kept: Meta redelivers a notification for up to 7 days.
const inboxRetention = 8 * 24 * time.Hour

// pruneEvery is how often RunRetention prunes.
const pruneEvery = time.Hour

// RunRetention prunes what is past its retention at start and every hour until ctx is done, logging one line with
// what it deleted.
func (s *Service) RunRetention(ctx context.Context, r Retention) {
	ticker := time.NewTicker(pruneEvery)
	defer ticker.Stop()
	for {
		s.Prune(ctx, r)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Prune deletes what is past its retention now.
func (s *Service) Prune(ctx context.Context, r Retention) (map[string]int64, error) {
	started, now := time.Now(), s.now()
	pruned, err := s.store.Prune(ctx, store.Retention{
		Answers:   now.Add(-r.Answers),
		Delivered: now.Add(-r.Done),
		Inbox:     now.Add(-inboxRetention),
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("pruning failed", "error", err)
	}
	attrs := []any{"elapsed_ms", time.Since(started).Milliseconds()}
	for table, n := range pruned {
		attrs = append(attrs, table, n)
	}
	s.log.Info("pruned", attrs...)
	return pruned, storeError(err)
}
