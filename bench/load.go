package bench

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// loadResult is what a load measured in its window.
type loadResult struct {
	ops       int // finished in the window
	latencies []time.Duration
	window    time.Duration
}

func (l *loadResult) rate() float64 { return float64(l.ops) / l.window.Seconds() }

// load runs op in a loop from conns goroutines, each with its number, for warmup and then for window, and counts
// the operations that finish in the window, with their latencies: in a steady state that is the rate, neither
// cut short by operations in flight at its ends nor padded by them. On a machine so busy that none finishes in the
// window, the window is stretched to the first that finishes after it, as a rate of nothing would be no rate at all.
// An operation that fails stops the load with its error: a figure with failures in it would not be the rate of the
// work measured.
func load(ctx context.Context, conns int, warmup, window time.Duration, op func(ctx context.Context, conn int) error) (*loadResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	from := time.Now().Add(warmup)
	to := from.Add(window)
	counted := make([][]time.Duration, conns)
	var mu sync.Mutex // guards stretched and any, once past to
	var any bool      // whether an operation finished in the window
	stretched := to

	var wg sync.WaitGroup
	for conn := range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				started := time.Now()
				mu.Lock()
				over := started.After(to) && any
				mu.Unlock()
				if over {
					return
				}
				if err := op(ctx, conn); err != nil {
					cancel(err)
					return
				}
				done := time.Now()
				if done.Before(from) {
					continue
				}
				mu.Lock()
				if !done.After(to) || !any {
					counted[conn] = append(counted[conn], done.Sub(started))
					any = true
					if done.After(stretched) {
						stretched = done
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}

	res := &loadResult{window: stretched.Sub(from)}
	for _, l := range counted {
		res.latencies = append(res.latencies, l...)
	}
	res.ops = len(res.latencies)
	return res, nil
}

// each runs fn(conn, i) for i from 0 to n-1 of every one of conns goroutines, and returns the first error.
func each(ctx context.Context, conns, n int, fn func(ctx context.Context, conn, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for conn := range conns {
		wg.Go(func() {
			for i := 0; i < n && ctx.Err() == nil; i++ {
				if err := fn(ctx, conn, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// waitFor waits until done is closed, for at most limit.
func waitFor(ctx context.Context, done <-chan struct{}, limit time.Duration, what string) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(limit):
		return fmt.Errorf("waited %s for %s", limit, what)
	}
}

// sleep waits for d, or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
