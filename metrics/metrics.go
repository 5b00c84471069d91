// Package metrics exposes the service's counters and gauges in Prometheus's text format. The service needs a handful
// of them, so this is a few dozen lines rather than a client library and its dependencies.
package metrics

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Registry holds the metrics that /metrics reports, in the order they were added.
type Registry struct {
	mu      sync.Mutex
	metrics []metric
}

type metric interface {
	write(w io.Writer)
}

// Counter is a monotonically increasing count, split by the values of its labels.
type Counter struct {
	name, help string
	labels     []string

	mu     sync.Mutex
	values map[string]float64 // by the label values, joined with \xff
}

// NewCounter adds a counter with the given label names.
func (r *Registry) NewCounter(name, help string, labels ...string) *Counter {
	c := &Counter{name: name, help: help, labels: labels, values: map[string]float64{}}
	r.add(c)
	return c
}

// Add adds n to the count of the label values, given in the order of the counter's labels.
func (c *Counter) Add(n float64, values ...string) {
	if len(values) != len(c.labels) {
		panic(fmt.Sprintf("metric %s has labels %v, got values %v", c.name, c.labels, values))
	}
	c.mu.Lock()
	c.values[strings.Join(values, "\xff")] += n
	c.mu.Unlock()
}

// Inc adds one to the count of the label values.
func (c *Counter) Inc(values ...string) { c.Add(1, values...) }

// Value returns the count of the label values.
func (c *Counter) Value(values ...string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.values[strings.Join(values, "\xff")]
}

func (c *Counter) write(w io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()

	header(w, c.name, c.help, "counter")
	for _, key := range slices.Sorted(maps.Keys(c.values)) {
		var values []string
		if len(c.labels) > 0 {
			values = strings.Split(key, "\xff")
		}
		fmt.Fprintf(w, "%s%s %s\n", c.name, labelSet(c.labels, values), format(c.values[key]))
	}
}

// GaugeFunc is a value read when the metrics are scraped.
type GaugeFunc struct {
	name, help string
	read       func() float64
}

// NewGaugeFunc adds a gauge whose value read returns at each scrape.
func (r *Registry) NewGaugeFunc(name, help string, read func() float64) *GaugeFunc {
	g := &GaugeFunc{name: name, help: help, read: read}
	r.add(g)
	return g
}

func (g *GaugeFunc) write(w io.Writer) {
	header(w, g.name, g.help, "gauge")
	fmt.Fprintf(w, "%s %s\n", g.name, format(g.read()))
}

func (r *Registry) add(m metric) {
	r.mu.Lock()
	r.metrics = append(r.metrics, m)
	r.mu.Unlock()
}

// Write writes every metric in Prometheus's text exposition format.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	metrics := slices.Clone(r.metrics)
	r.mu.Unlock()

	for _, m := range metrics {
		m.write(w)
	}
}

// Handler serves the metrics.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.Write(w)
	})
}

func header(w io.Writer, name, help, kind string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
}

func labelSet(names, values []string) string {
	if len(names) == 0 {
		return ""
	}
	pairs := make([]string, len(names))
	for i, n := range names {
		pairs[i] = n + "=" + strconv.Quote(values[i])
	}
	return "{" + strings.Join(pairs, ",") + "}"
}

func format(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}
