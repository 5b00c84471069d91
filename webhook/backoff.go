package webhook

import (
	"math/rand/v2"
	"time"
)

// Backoff returns how long to wait after the failed attempt with the given number (1 for the first) before the next.
// It only spaces the attempts out: how long they go on for is the worker's GiveUpAfter.
type Backoff func(attempt int) time.Duration

// DefaultBackoff waits 5s after the first failure and doubles the wait after each, up to an hour, with equal
// jitter, so that events that failed together (a receiver that was down) don't come back together:
//
//	attempt  1    2    3    4    5     6      7       8        9         10        11 and on
//	wait     5s   10s  20s  40s  80s   2m40s  5m20s   10m40s   21m20s    42m40s    1h
//
// each wait drawn from [wait/2, wait]. The first ten take 43m to 1h25m, and hourly retries fill the rest of the
// worker's 25 hours: about 35 to 60 attempts in all, the last at the deadline.
var DefaultBackoff = Exponential(5*time.Second, time.Hour)

// Exponential returns a backoff of base doubled after every failure, capped at max, with equal jitter: each wait
// is drawn from [d/2, d], which keeps the growth while spreading retries out.
func Exponential(base, max time.Duration) Backoff {
	return exponential(base, max, rand.Int64N)
}

// exponential takes the random source, so that tests can pin the jitter.
func exponential(base, max time.Duration, randN func(int64) int64) Backoff {
	return func(attempt int) time.Duration {
		d := min(base, max)
		for i := 1; i < attempt && d < max; i++ {
			d = min(2*d, max)
		}
		half := d / 2
		return half + time.Duration(randN(int64(d-half)+1))
	}
}
