package whatsapp

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestReserve(t *testing.T) {
	now := time.Unix(1760711433, 0)
	every := 10 * time.Millisecond

	// an idle bucket lets burst sends go at once, then one an interval
	var tat time.Time
	var waits []time.Duration
	for range 5 {
		var wait time.Duration
		tat, wait = reserve(tat, now, every, 3)
		waits = append(waits, wait)
	}
	assert.Equal(t, []time.Duration{0, 0, 0, 10 * time.Millisecond, 20 * time.Millisecond}, waits)
	assert.Equal(t, now.Add(50*time.Millisecond), tat)

	// time refills it, at one send an interval, up to the burst
	_, wait := reserve(tat, now.Add(30*time.Millisecond), every, 3)
	assert.Equal(t, time.Duration(0), wait)
	_, wait = reserve(tat, now.Add(25*time.Millisecond), every, 3)
	assert.Equal(t, 5*time.Millisecond, wait)
	tat, wait = reserve(tat, now.Add(time.Hour), every, 3)
	assert.Equal(t, time.Duration(0), wait)
	assert.Equal(t, now.Add(time.Hour+every), tat, "an idle spell saves no more than the burst")
}

func TestBurstAndInterval(t *testing.T) {
	assert.Equal(t, 8, burst(80))
	assert.Equal(t, 100, burst(1000))
	assert.Equal(t, 1, burst(5))
	assert.Equal(t, 1, burst(0.5))

	for rate, want := range map[float64]time.Duration{
		80:   12500 * time.Microsecond,
		1000: time.Millisecond,
		3:    333333 * time.Microsecond,
		0.5:  2 * time.Second,
		1e9:  time.Microsecond, // the bucket's unit
	} {
		got, err := interval(rate)
		assert.NoError(t, err)
		assert.Equal(t, want, got, "rate %v", rate)
	}
	for _, rate := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		_, err := interval(rate)
		assert.Error(t, err, "rate %v", rate)
	}
}
