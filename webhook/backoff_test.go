package webhook

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// schedule is DefaultBackoff's nominal wait after each attempt, as its documentation gives it.
var schedule = []time.Duration{
	5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
	160 * time.Second, 320 * time.Second, 640 * time.Second, 1280 * time.Second, 2560 * time.Second,
	time.Hour, time.Hour, time.Hour,
}

func TestExponential(t *testing.T) {
	shortest := exponential(5*time.Second, time.Hour, func(int64) int64 { return 0 })
	longest := exponential(5*time.Second, time.Hour, func(n int64) int64 { return n - 1 })
	for i, d := range schedule {
		assert.Equal(t, d/2, shortest(i+1), "shortest wait after attempt %d", i+1)
		assert.Equal(t, d, longest(i+1), "longest wait after attempt %d", i+1)
	}
	assert.Equal(t, time.Hour, longest(1000), "no overflow")
	assert.Equal(t, 5*time.Second, longest(0), "attempt 0 waits like attempt 1")
	assert.Equal(t, 30*time.Second, exponential(time.Minute, 30*time.Second, func(n int64) int64 { return n - 1 })(1), "base above max")
}

func TestDefaultBackoffJitter(t *testing.T) {
	for i, d := range schedule {
		seen := map[time.Duration]bool{}
		for range 500 {
			wait := DefaultBackoff(i + 1)
			if wait < d/2 || wait > d {
				t.Fatalf("wait %s after attempt %d is outside [%s, %s]", wait, i+1, d/2, d)
			}
			seen[wait] = true
		}
		assert.Greater(t, len(seen), 400, "waits after attempt %d aren't spread out", i+1)
	}
}
