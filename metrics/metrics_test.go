package metrics_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/optout-dev/optout/metrics"
)

func TestRegistry(t *testing.T) {
	r := &metrics.Registry{}
	msgs := r.NewCounter("optout_messages_total", "Messages received, by intent.", "intent")
	plain := r.NewCounter("optout_restarts_total", "Restarts.")
	r.NewGaugeFunc("optout_webhook_lag_seconds", "Age of the oldest undelivered webhook event.", func() float64 { return 1.5 })

	msgs.Inc("opt_out")
	msgs.Inc("none")
	msgs.Add(2, "opt_out")
	plain.Inc()
	msgs.Inc(`we"ird`)

	assert.Equal(t, float64(3), msgs.Value("opt_out"))
	assert.Equal(t, float64(0), msgs.Value("opt_in"))

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, strings.TrimLeft(`
# HELP optout_messages_total Messages received, by intent.
# TYPE optout_messages_total counter
optout_messages_total{intent="none"} 1
optout_messages_total{intent="opt_out"} 3
optout_messages_total{intent="we\"ird"} 1
# HELP optout_restarts_total Restarts.
# TYPE optout_restarts_total counter
optout_restarts_total 1
# HELP optout_webhook_lag_seconds Age of the oldest undelivered webhook event.
# TYPE optout_webhook_lag_seconds gauge
optout_webhook_lag_seconds 1.5
`, "\n"), rec.Body.String())

	assert.Panics(t, func() { msgs.Inc() }, "a value per label")
}
