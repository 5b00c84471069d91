package bench

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is what a Run measured.
type Report struct {
	Mode     string        `json:"mode"` // full or short
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Repeats  int           `json:"repeats"`
	Machine  Machine       `json:"machine"`
	Results  []*Result     `json:"results"`
	Skipped  []string      `json:"skipped,omitempty"` // what didn't run, and why
}

// Result is one benchmark: the side measured and the side it is measured against, once per repeat, their ratio,
// and the target it is held to.
type Result struct {
	Name     string `json:"name"`
	What     string `json:"what"` // what is measured, exactly
	Measured Side   `json:"measured"`
	Baseline *Side  `json:"baseline,omitempty"` // nil where the target is absolute
	// Ratios are measured ÷ baseline per repeat, or baseline ÷ measured where Speedup says so.
	Ratios  []float64   `json:"ratios,omitempty"`
	Speedup bool        `json:"speedup,omitempty"`
	Metrics []*Metric   `json:"metrics,omitempty"` // further figures, per repeat
	Target  []Criterion `json:"target,omitempty"`  // all must hold; none for a figure that is only reported
	Notes   []string    `json:"notes,omitempty"`
	Err     string      `json:"error,omitempty"` // why it couldn't be measured
}

// Side is one side of a result, one value per repeat.
type Side struct {
	Label  string    `json:"label"`
	Unit   string    `json:"unit"`
	Values []float64 `json:"values"`
}

// Metric is a further figure of a result, one value per repeat.
type Metric struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Values []float64 `json:"values"`
}

// Criterion is one condition of a target: the median of the figure named (ratio, measured, or a metric's name)
// compared with a limit.
type Criterion struct {
	Of    string  `json:"of"`
	Op    string  `json:"op"` // >= or <=
	Limit float64 `json:"limit"`
}

// the figures a Criterion names besides metrics
const (
	ofRatio    = "ratio"
	ofMeasured = "measured"
)

func (s *Side) add(v float64) { s.Values = append(s.Values, v) }

func (m *Metric) add(v float64) { m.Values = append(m.Values, v) }

// metric returns the result's metric of that name, added with the unit if it has none yet.
func (r *Result) metric(name, unit string) *Metric {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m
		}
	}
	m := &Metric{Name: name, Unit: unit}
	r.Metrics = append(r.Metrics, m)
	return m
}

// pair records one repeat of both sides and their ratio.
func (r *Result) pair(measured, baseline float64) {
	r.Measured.add(measured)
	r.Baseline.add(baseline)
	switch {
	case r.Speedup && measured > 0:
		r.Ratios = append(r.Ratios, baseline/measured)
	case !r.Speedup && baseline > 0:
		r.Ratios = append(r.Ratios, measured/baseline)
	default:
		r.Ratios = append(r.Ratios, math.NaN())
	}
}

// figure returns the values a criterion is of.
func (r *Result) figure(of string) ([]float64, string) {
	switch of {
	case ofRatio:
		return r.Ratios, "×"
	case ofMeasured:
		return r.Measured.Values, r.Measured.Unit
	}
	for _, m := range r.Metrics {
		if m.Name == of {
			return m.Values, m.Unit
		}
	}
	return nil, ""
}

// Verdict says whether the result meets its target: "pass", "fail", "" when it has none, or "error".
func (r *Result) Verdict() string {
	if r.Err != "" {
		return "error"
	}
	if len(r.Target) == 0 {
		return ""
	}
	for _, c := range r.Target {
		values, _ := r.figure(c.Of)
		got := median(values)
		if math.IsNaN(got) || (c.Op == ">=" && got < c.Limit) || (c.Op == "<=" && got > c.Limit) {
			return "fail"
		}
	}
	return "pass"
}

// targetText writes the target, as "ratio ≥ 0.5, p99 ≤ 50 ms".
func (r *Result) targetText() string {
	parts := make([]string, len(r.Target))
	for i, c := range r.Target {
		_, unit := r.figure(c.Of)
		op := map[string]string{">=": "≥", "<=": "≤"}[c.Op]
		name := c.Of
		if c.Of == ofMeasured {
			name = r.Measured.Label
		}
		if unit == "×" {
			parts[i] = fmt.Sprintf("%s %s %s×", name, op, num(c.Limit))
		} else {
			parts[i] = strings.TrimSpace(fmt.Sprintf("%s %s %s %s", name, op, num(c.Limit), unit))
		}
	}
	return strings.Join(parts, ", ")
}

// line is the result on one line, for the progress log.
func (r *Result) line(short bool) string {
	if r.Err != "" {
		return fmt.Sprintf("%s: ERROR %s", r.Name, r.Err)
	}
	s := fmt.Sprintf("%s: %s", r.Name, sideText(&r.Measured))
	if r.Baseline != nil {
		s += fmt.Sprintf(" vs %s: %s", sideText(r.Baseline), ratioText(r.Ratios))
	}
	if len(r.Target) > 0 {
		s += fmt.Sprintf(" (target %s: %s)", r.targetText(), verdictText(r.Verdict(), short))
	}
	return s
}

func sideText(s *Side) string {
	return fmt.Sprintf("%s %s (%s)", num(median(s.Values)), s.Unit, s.Label)
}

func ratioText(ratios []float64) string {
	return num(median(ratios)) + "×"
}

func verdictText(v string, short bool) string {
	if short && (v == "pass" || v == "fail") {
		return v + ", not judged in short mode"
	}
	return v
}

// spread writes the least and the greatest value, or the one value.
func spread(values []float64) string {
	if len(values) == 0 {
		return "—"
	}
	lo, hi := slices.Min(values), slices.Max(values)
	if lo == hi {
		return num(lo)
	}
	return num(lo) + "–" + num(hi)
}

// Markdown writes the report as BENCHMARKS.md: the machine, a table of every result, and each one's detail.
func (rep *Report) Markdown() []byte {
	var b bytes.Buffer
	short := rep.Mode == "short"
	m := rep.Machine

	b.WriteString("# Benchmarks\n\n")
	fmt.Fprintf(&b, "Written by `optout bench` in %s mode on %s, in %s: %d repeats, each side of a ratio measured in turn "+
		"with the other (A B A B ...) on the same data, in the same run. `optout serve` ran as its own process, driven "+
		"over HTTP on loopback. Each benchmark's section below says what it measures.\n\n",
		rep.Mode, rep.Started.Format("2006-01-02 15:04 UTC"), rep.Duration.Round(time.Second), rep.Repeats)
	b.WriteString("Regenerate it with `optout bench`; `optout bench --short` runs every benchmark with the small sizes CI runs.\n\n")
	if short {
		b.WriteString("Short mode runs small sizes to check the harness: its figures say nothing of the targets, which it " +
			"reports without judging.\n\n")
	}

	b.WriteString("## Machine\n\n| | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| cores | %d (%s) |\n", m.Cores, m.CPU)
	fmt.Fprintf(&b, "| memory | %s |\n", m.Memory)
	fmt.Fprintf(&b, "| load average at start | %s |\n", m.LoadAverage)
	fmt.Fprintf(&b, "| Go | %s (optout binary built with %s) |\n", m.Go, m.BinaryGo)
	fmt.Fprintf(&b, "| PostgreSQL | %s |\n", orNone(m.PostgreSQL))
	fmt.Fprintf(&b, "| Redis | %s |\n", orNone(m.Redis))
	fmt.Fprintf(&b, "| SQLite | %s |\n", m.SQLite)
	b.WriteString("\n")
	for _, s := range rep.Skipped {
		fmt.Fprintf(&b, "Not measured: %s.\n\n", s)
	}

	b.WriteString("## Results\n\nMedians over the repeats; the spread is the least and the greatest ratio (or value, where " +
		"there is no baseline).\n\n")
	b.WriteString("| benchmark | measured | baseline | ratio | target | | spread |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rep.Results {
		if r.Err != "" {
			fmt.Fprintf(&b, "| %s | error: %s | | | | error | |\n", r.Name, cell(r.Err))
			continue
		}
		baseline, ratio, sp := "—", "—", spread(r.Measured.Values)
		if r.Baseline != nil {
			baseline = cell(sideText(r.Baseline))
			ratio = ratioText(r.Ratios)
			sp = spread(r.Ratios)
		}
		target := r.targetText()
		if target == "" {
			target = "reported"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Name, cell(sideText(&r.Measured)), baseline, ratio,
			cell(target), verdictText(r.Verdict(), short), sp)
	}

	b.WriteString("\n## Details\n")
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "\n### %s\n\n", r.Name)
		if r.Err != "" {
			fmt.Fprintf(&b, "Error: %s\n", r.Err)
			continue
		}
		if r.What != "" {
			fmt.Fprintf(&b, "%s\n\n", r.What)
		}
		fmt.Fprintf(&b, "- measured, %s: %s %s\n", r.Measured.Label, values(r.Measured.Values), r.Measured.Unit)
		if r.Baseline != nil {
			fmt.Fprintf(&b, "- baseline, %s: %s %s\n", r.Baseline.Label, values(r.Baseline.Values), r.Baseline.Unit)
			what := "measured ÷ baseline"
			if r.Speedup {
				what = "baseline ÷ measured"
			}
			fmt.Fprintf(&b, "- ratio (%s): %s\n", what, values(r.Ratios))
		}
		for _, mt := range r.Metrics {
			fmt.Fprintf(&b, "- %s: %s %s\n", mt.Name, values(mt.Values), mt.Unit)
		}
		if len(r.Target) > 0 {
			fmt.Fprintf(&b, "- target: %s: %s\n", r.targetText(), verdictText(r.Verdict(), short))
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.Bytes()
}

// values writes the values of the repeats, in the order they were measured.
func values(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = num(v)
	}
	return strings.Join(parts, ", ")
}

// num writes a figure with three significant digits, and thousands separated by commas.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.IsInf(v, 0):
		return "∞"
	case v == 0:
		return "0"
	}
	a := math.Abs(v)
	if a >= 1000 {
		s := strconv.FormatInt(int64(math.Round(a)), 10)
		var out []byte
		for i, c := range []byte(s) {
			if i > 0 && (len(s)-i)%3 == 0 {
				out = append(out, ',')
			}
			out = append(out, c)
		}
		if v < 0 {
			return "-" + string(out)
		}
		return string(out)
	}
	digits := max(0, 2-int(math.Floor(math.Log10(a))))
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// count writes a count with its thousands separated by commas.
func count(n int) string { return num(float64(n)) }

// cell keeps text from breaking a Markdown table.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func orNone(s string) string {
	if s == "" {
		return "not used"
	}
	return s
}
