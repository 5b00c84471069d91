package bench

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
	"github.com/optout-dev/optout/keywords"
	"github.com/optout-dev/optout/webhook"
)

// TestShortMode runs every benchmark in the short mode, against a service built without the race detector as
// `optout bench` measures it, and checks that each produced both of its sides in every repeat, and the report.
func TestShortMode(t *testing.T) {
	db, redis := testenv.Postgres(t), testenv.Redis(t)
	binary := filepath.Join(t.TempDir(), "optout")
	out, err := exec.Command("go", "build", "-o", binary, "github.com/optout-dev/optout/cmd/optout").CombinedOutput()
	require.NoError(t, err, "building optout: %s", out)

	report := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Options{Short: true, DB: db, Redis: redis, Binary: binary, Out: report}, &progress)
	require.NoError(t, err, progress.String())

	var want []string
	want = append(want, "keywords/miss", "keywords/mixed")
	for _, store := range []string{"postgres", "embedded"} {
		for _, c := range []string{"c1", "c16", "c64"} {
			want = append(want, "messages/keyword/"+store+"/"+c, "messages/flow/"+store+"/"+c)
		}
	}
	want = append(want, "roundtrips/keyword/postgres", "roundtrips/flow/postgres")
	for _, store := range []string{"postgres", "embedded"} {
		want = append(want, "webhooks/"+store)
	}
	for _, store := range []string{"postgres", "embedded"} {
		want = append(want, "webhooks/fairness/hang/"+store, "webhooks/fairness/slow/"+store)
	}
	for _, store := range []string{"postgres", "embedded"} {
		want = append(want, "broadcasts/"+store, "broadcasts/send/"+store, "broadcasts/linearity/"+store)
	}
	for _, store := range []string{"postgres", "embedded"} {
		want = append(want, "optouts/import/"+store, "optouts/export/"+store)
	}
	want = append(want, "memory/idle/postgres", "memory/idle/embedded", "memory/soak/postgres", "memory/soak/embedded")

	var got []string
	for _, res := range rep.Results {
		got = append(got, res.Name)
		if !assert.Empty(t, res.Err, "%s failed", res.Name) {
			continue
		}
		// a side that reached its cap ends the repeats early; every other runs them all
		repeats := 2
		if strings.HasPrefix(res.Name, "memory/") {
			repeats = 1
		}
		if strings.HasPrefix(res.Name, "webhooks/fairness/") {
			assert.NotEmpty(t, res.Measured.Values, res.Name)
		} else {
			assert.Len(t, res.Measured.Values, repeats, "%s: its measured side", res.Name)
		}
		for _, v := range res.Measured.Values {
			assert.True(t, v > 0 && !math.IsInf(v, 0), "%s: measured %v", res.Name, v)
		}
		if res.Baseline != nil {
			assert.Len(t, res.Baseline.Values, len(res.Measured.Values), "%s: its baseline", res.Name)
			assert.Len(t, res.Ratios, len(res.Measured.Values), "%s: its ratios", res.Name)
			for _, v := range res.Baseline.Values {
				assert.True(t, v > 0 && !math.IsInf(v, 0), "%s: baseline %v", res.Name, v)
			}
		}
		for _, m := range res.Metrics {
			assert.Len(t, m.Values, len(res.Measured.Values), "%s: metric %s", res.Name, m.Name)
		}
	}
	assert.Equal(t, want, got)

	md, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Equal(t, rep.Markdown(), md)
	for _, name := range want {
		assert.Contains(t, string(md), "\n| "+name+" | ", "the table has a row for %s", name)
		assert.Contains(t, string(md), "\n### "+name+"\n", "the details have a section for %s", name)
	}
	for _, version := range []string{rep.Machine.PostgreSQL, rep.Machine.Redis, rep.Machine.SQLite, rep.Machine.Go} {
		assert.NotEmpty(t, version)
		assert.Contains(t, string(md), version)
	}
	assert.Contains(t, string(md), "not judged in short mode")
}

func TestOptionsCheck(t *testing.T) {
	assert.EqualError(t, (&Options{}).check(), "binary: is required, the optout binary to run `optout serve` from")

	dir := t.TempDir()
	err := (&Options{Binary: dir, Only: []string{"messages", "speed"}, Repeats: -1, Contacts: 10, Redis: "redis://127.0.0.1:6379"}).check()
	require.Error(t, err)
	for _, want := range []string{
		"binary: " + dir + " is not an executable file",
		`only: "speed" is not a benchmark: give some of keywords, messages, roundtrips, webhooks, fairness, broadcasts, optouts, memory`,
		"repeats: -1 is negative",
		"contacts: 10 is fewer than 100",
		"redis: is used beside PostgreSQL, so it needs db too",
	} {
		assert.Contains(t, err.Error(), want)
	}

	self, err := os.Executable()
	require.NoError(t, err)
	assert.NoError(t, (&Options{Binary: self, Only: []string{"keywords"}}).check())

	o := Options{Short: true}
	o.defaults()
	assert.Equal(t, Options{Short: true, Repeats: 2, Contacts: 2000, Soak: 5 * time.Second}, o)
	o = Options{Repeats: 5}
	o.defaults()
	assert.Equal(t, Options{Repeats: 5, Contacts: 1_000_000, Soak: 10 * time.Minute}, o)
}

func TestStats(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	assert.Equal(t, 1.0, median([]float64{math.NaN(), 1}), "what couldn't be measured is left out")
	assert.True(t, math.IsNaN(median(nil)))

	var latencies []time.Duration
	for i := 100; i >= 1; i-- {
		latencies = append(latencies, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 99*time.Millisecond, percentile(latencies, 0.99))
	assert.Equal(t, 50*time.Millisecond, percentile(latencies, 0.5))
	assert.Equal(t, 100*time.Millisecond, percentile(latencies, 1))
	assert.Equal(t, time.Duration(0), percentile(nil, 0.99))
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 1: "1.00", 0.0123456: "0.0123", 12.345: "12.3", 999.4: "999", 1000: "1,000", 1234567.8: "1,234,568",
		-2500: "-2,500", math.NaN(): "n/a", math.Inf(1): "∞",
	} {
		assert.Equal(t, want, num(v), "%v", v)
	}
}

func TestVerdict(t *testing.T) {
	res := &Result{
		Measured: Side{Label: "service", Unit: "msg/s"},
		Baseline: &Side{Label: "upserts", Unit: "txn/s"},
		Target:   []Criterion{{ofRatio, ">=", 0.5}, {"p99", "<=", 50}},
	}
	p99 := res.metric("p99", "ms")
	res.pair(300, 1000)
	p99.add(40)
	res.pair(700, 1000)
	p99.add(60)
	res.pair(600, 1000)
	p99.add(45)
	assert.Equal(t, []float64{0.3, 0.7, 0.6}, res.Ratios)
	assert.Equal(t, "pass", res.Verdict(), "the medians: 0.6 and 45 ms")
	assert.Equal(t, "ratio ≥ 0.500×, p99 ≤ 50.0 ms", res.targetText())

	p99.Values[2] = 55
	assert.Equal(t, "fail", res.Verdict())

	speed := &Result{Measured: Side{Unit: "ns"}, Baseline: &Side{Unit: "ns"}, Speedup: true, Target: []Criterion{{ofRatio, ">=", 1000}}}
	speed.pair(100, 200_000)
	assert.Equal(t, []float64{2000}, speed.Ratios)
	assert.Equal(t, "pass", speed.Verdict())

	absolute := &Result{Measured: Side{Label: "peak", Unit: "MiB", Values: []float64{300}}, Target: []Criterion{{ofMeasured, "<=", 256}}}
	assert.Equal(t, "fail", absolute.Verdict())
	assert.Equal(t, "peak ≤ 256 MiB", absolute.targetText())

	none := &Result{Measured: Side{Values: []float64{1}}, Baseline: &Side{}, Target: []Criterion{{ofRatio, ">=", 1}}}
	assert.Equal(t, "fail", none.Verdict(), "a target with nothing measured isn't met")
	assert.Equal(t, "", (&Result{Measured: Side{Values: []float64{1}}}).Verdict())
	assert.Equal(t, "error", (&Result{Err: "boom"}).Verdict())
}

func TestMarkdown(t *testing.T) {
	res := &Result{
		Name: "messages/keyword/postgres/c16", What: "Keyword messages.",
		Measured: Side{Label: "optout serve", Unit: "msg/s"}, Baseline: &Side{Label: "lib/pq upserts", Unit: "txn/s"},
		Target: []Criterion{{ofRatio, ">=", 0.5}},
		Notes:  []string{"A note."},
	}
	res.pair(330, 6500)
	res.pair(340, 6400)
	rep := &Report{
		Mode: "full", Started: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Duration: 25 * time.Minute, Repeats: 2,
		Machine: Machine{Cores: 2, CPU: "AMD EPYC", Memory: "23.5 GiB", Go: "go1.26.8", BinaryGo: "go1.26.8", PostgreSQL: "15.20", SQLite: "3.54.1"},
		Results: []*Result{res, {Name: "webhooks/embedded", Err: "optout serve exited: a | b"}},
		Skipped: []string{"round trips: they are counted on PostgreSQL, which was not given"},
	}
	md := string(rep.Markdown())
	assert.Contains(t, md, "in full mode on 2026-12-01 10:00 UTC, in 25m0s: 2 repeats")
	assert.Contains(t, md, "| cores | 2 (AMD EPYC) |")
	assert.Contains(t, md, "| PostgreSQL | 15.20 |")
	assert.Contains(t, md, "| Redis | not used |")
	assert.Contains(t, md, "Not measured: round trips: they are counted on PostgreSQL, which was not given.")
	assert.Contains(t, md, "| messages/keyword/postgres/c16 | 335 msg/s (optout serve) | 6,450 txn/s (lib/pq upserts) | 0.0519× | ratio ≥ 0.500× | fail | 0.0508–0.0531 |")
	assert.Contains(t, md, `| webhooks/embedded | error: optout serve exited: a \| b | | | | error | |`)
	assert.Contains(t, md, "- measured, optout serve: 330, 340 msg/s\n- baseline, lib/pq upserts: 6,500, 6,400 txn/s\n")
	assert.Contains(t, md, "- A note.\n")
	assert.NotContains(t, md, "not judged")
}

func TestTraffic(t *testing.T) {
	tr := newTraffic(1000)
	assert.Len(t, tr.misses, 990)
	assert.Len(t, tr.mixed, 1000)
	assert.True(t, slices.Equal(tr.mixed, newTraffic(1000).mixed), "the same messages on every run")

	hits := 0
	for _, text := range tr.mixed {
		n := utf8.RuneCountInString(text)
		assert.True(t, n >= 1 && n <= 200, "%q has %d characters", text, n)
		if keywords.Default.Match(text, "por").Intent != keywords.None {
			hits++
		}
	}
	assert.Equal(t, 10, hits, "1% keywords")
	for _, text := range tr.misses {
		assert.True(t, utf8.RuneCountInString(text) >= 5, "%q is shorter than 5 characters", text)
		assert.Equal(t, keywords.None, keywords.Default.Match(text, "por").Intent, "%q", text)
	}
}

func TestKeywordSides(t *testing.T) {
	ic, err := newInterceptorSide()
	require.NoError(t, err)
	stock, err := newStockSide()
	require.NoError(t, err)
	assert.Equal(t, 12, stock.cases, "a case for each keyword of the default catalog")

	texts := []string{"Olá, tudo bem?", "PARAR", "#voltar"}
	_, allocs, err := timePasses(time.Millisecond, ic.messages(texts[:1]), ic.decide)
	require.NoError(t, err)
	assert.Zero(t, allocs, "the interceptor allocates nothing on a miss")
	for _, d := range []*decider{ic, stock} {
		ns, allocs, err := timePasses(time.Millisecond, d.messages(texts), d.decide)
		require.NoError(t, err)
		assert.Positive(t, ns)
		assert.Positive(t, allocs)
	}
}

// BenchmarkInterceptor runs the interceptor side of the keyword benchmarks alone, on the same messages, for
// go test's -cpuprofile and -benchmem.
func BenchmarkInterceptor(b *testing.B) {
	tr := newTraffic(10_000)
	ic, err := newInterceptorSide()
	require.NoError(b, err)

	for _, c := range []struct {
		name  string
		texts []string
	}{{"miss", tr.misses}, {"mixed", tr.mixed}} {
		msgs := ic.messages(c.texts)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := ic.decide(msgs[i%len(msgs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	l, err := load(context.Background(), 4, 20*time.Millisecond, 100*time.Millisecond, func(context.Context, int) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, len(l.latencies), l.ops)
	assert.GreaterOrEqual(t, l.ops, 4, "each client finished one in the window")
	assert.LessOrEqual(t, l.ops, 4*101, "none finished outside it")
	for _, latency := range l.latencies {
		assert.GreaterOrEqual(t, latency, time.Millisecond)
	}

	_, err = load(context.Background(), 4, 0, time.Minute, func(_ context.Context, conn int) error {
		if conn == 2 {
			return io.ErrUnexpectedEOF
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "a failure stops the load")

	// on a machine too busy for any to finish in the window, the window stretches to the first that finishes
	l, err = load(context.Background(), 2, 10*time.Millisecond, 20*time.Millisecond, func(_ context.Context, conn int) error {
		time.Sleep(time.Duration(50*(conn+1)) * time.Millisecond)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 1, l.ops, "the first to finish after the window")
	assert.GreaterOrEqual(t, l.window, 40*time.Millisecond)
	assert.Less(t, l.window, 90*time.Millisecond, "not the second's")
	assert.Greater(t, l.rate(), 0.0)
}

func TestReceiver(t *testing.T) {
	rc, err := startReceiver()
	require.NoError(t, err)
	defer rc.close()

	post := func(endpoint, body, signature string) int {
		req, err := http.NewRequest("POST", rc.url(endpoint, "acme"), strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Optout-Signature", signature)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	reached := rc.expect("acme", 2)
	arrived, _ := rc.watch("msg-2")
	assert.Equal(t, http.StatusOK, post("ok", `{"msg_uuid":"msg-1"}`, webhook.Sign(webhookSecret, []byte(`{"msg_uuid":"msg-1"}`))))
	assert.Equal(t, http.StatusUnauthorized, post("ok", `{"msg_uuid":"msg-2"}`, "sha256=00"))
	select {
	case <-reached:
		t.Fatal("a delivery with a wrong signature was counted")
	default:
	}
	assert.Equal(t, http.StatusOK, post("ok", `{"msg_uuid":"msg-2"}`, webhook.Sign(webhookSecret, []byte(`{"msg_uuid":"msg-2"}`))))
	<-reached
	<-arrived
	count, first, last, bad := rc.tally("acme")
	assert.Equal(t, 2, count)
	assert.Equal(t, 1, bad)
	assert.False(t, last.Before(first))
	count, _, _, _ = rc.tally("another")
	assert.Zero(t, count, "each workspace is counted apart")

	answered := make(chan int)
	go func() { answered <- post("hang", `{}`, "") }()
	require.Eventually(t, func() bool { return rc.holding.Load() == 1 }, 5*time.Second, time.Millisecond)
	select {
	case <-answered:
		t.Fatal("/hang answered before it was released")
	case <-time.After(50 * time.Millisecond):
	}
	rc.release()
	assert.Equal(t, http.StatusOK, <-answered)
}

func TestProxyCountsRoundTrips(t *testing.T) {
	// a server that answers each line with a line, as a database answers each request
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					for range bytes.Count(buf[:n], []byte("\n")) {
						c.Write([]byte("ok\n"))
					}
				}
			}()
		}
	}()

	p, err := startProxy(l.Addr().String())
	require.NoError(t, err)
	defer p.close()
	c, err := net.Dial("tcp", p.addr())
	require.NoError(t, err)
	defer c.Close()

	ask := func(request string, answers int) {
		_, err := c.Write([]byte(request))
		require.NoError(t, err)
		got := 0
		buf := make([]byte, 1024)
		for got < answers {
			n, err := c.Read(buf)
			require.NoError(t, err)
			got += bytes.Count(buf[:n], []byte("\n"))
		}
	}
	ask("one\n", 1)
	ask("two\n", 1)
	assert.Equal(t, int64(2), p.roundTrips())
	ask("three\nfour\nfive\n", 3)
	assert.Equal(t, int64(3), p.roundTrips(), "a pipeline is one round trip")
}

func TestCPU(t *testing.T) {
	before := takeCPU(os.Getpid())
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); {
	}
	shares := before.to(takeCPU(os.Getpid()))
	assert.Greater(t, shares.serve, 0.0, "the process's own CPU time, read from /proc")
	assert.Greater(t, shares.busy, 0.0)
	assert.InDelta(t, shares.serve, shares.harness, 0.5, "the same process both ways")

	name, cpu := readStat("/proc/self/stat")
	assert.NotEmpty(t, name)
	assert.Greater(t, cpu, 0.0)
}
