package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound what one workspace's token can ask of an instance, so that no one workspace can exhaust the service
// for the others. The admin token is not limited.
type Limits struct {
	Rate       float64 // requests a second of each workspace's token, with bursts of twice that; 0 for no limit
	Broadcasts int     // broadcasts of each workspace being decided at once; 0 for no limit
}

// limiter keeps each workspace's request bucket and count of broadcasts in flight, in this instance.
type limiter struct {
	limits Limits

	mu         sync.Mutex
	buckets    map[string]*rate.Limiter
	broadcasts map[string]int
}

func newLimiter(limits Limits) *limiter {
	return &limiter{limits: limits, buckets: map[string]*rate.Limiter{}, broadcasts: map[string]int{}}
}

// allow takes a request of the workspace from its bucket, or says how long until one may come.
func (l *limiter) allow(workspace string) (bool, time.Duration) {
	if l.limits.Rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	b := l.buckets[workspace]
	if b == nil {
		b = rate.NewLimiter(rate.Limit(l.limits.Rate), max(1, int(math.Ceil(2*l.limits.Rate))))
		l.buckets[workspace] = b
	}
	l.mu.Unlock()

	r := b.Reserve()
	if wait := r.Delay(); wait > 0 {
		r.Cancel()
		return false, wait
	}
	return true, 0
}

// startBroadcast counts a broadcast of the workspace in flight, if there is room for it, and returns the function
// that ends it.
func (l *limiter) startBroadcast(workspace string) (func(), bool) {
	if l.limits.Broadcasts <= 0 {
		return func() {}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broadcasts[workspace] >= l.limits.Broadcasts {
		return nil, false
	}
	l.broadcasts[workspace]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.broadcasts[workspace]--; l.broadcasts[workspace] == 0 {
			delete(l.broadcasts, workspace)
		}
	}, true
}

// tooMany answers 429 with when to try again, in whole seconds as Retry-After takes them.
func tooMany(w http.ResponseWriter, wait time.Duration, format string, args ...any) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	writeError(w, http.StatusTooManyRequests, fmt.Sprintf(format, args...))
}
