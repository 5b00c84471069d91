// Package bench measures optout against the limits of the machine it runs on and against the alternatives, each
// figure a ratio of two sides measured in one run, in turn (A B A B ...) over the same data: the service's messages
// against single-row upsert transactions through the same database driver, a broadcast against one SQL pass that
// reads the group and writes every decision, webhook deliveries against a plain loop of the same POSTs, the keyword
// interceptor against goflow's stock switch router, and the memory of `optout serve` and of the opt-out list
// commands. Service figures come from a real `optout serve` process driven over HTTP on loopback, on PostgreSQL +
// Redis and on the embedded store. Run writes the report as BENCHMARKS.md.
//
// The short mode runs every benchmark with small sizes, to show the harness works; it reports the targets without
// judging them, as its sizes say nothing about them.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Options say what to run, and against what.
type Options struct {
	Short   bool     // small sizes, a few seconds a benchmark: checks the harness, not the targets
	DB      string   // PostgreSQL URL; a schema of the run's own is made in it and dropped after. Empty: no PostgreSQL benchmarks
	Redis   string   // Redis URL, used beside PostgreSQL; empty: PostgreSQL alone
	Binary  string   // the optout binary whose `optout serve`, `import-optouts` and `export-optouts` are measured
	Only    []string // benchmarks to run, of Benchmarks(); all when empty
	Repeats int      // times each side is measured, in turn with the other; 3 (full) or 2 (short) when 0
	Out     string   // file the Markdown report is written to; none when empty

	// Contacts is the size of the group broadcast to and of the opt-out lists imported and exported; 1,000,000
	// (full) or 2,000 (short) when 0.
	Contacts int
	// Soak is how long the memory soak lasts; 10 minutes (full) or 5 seconds (short) when 0.
	Soak time.Duration
}

// benchmarks are what Options.Only names, in the order they run: each runs its benchmarks on every store and adds
// their results to the report.
var benchmarks = []struct {
	name string
	run  func(ctx context.Context, r *run) error
}{
	{"keywords", runKeywords},
	{"messages", runMessages},
	{"roundtrips", runRoundTrips},
	{"webhooks", runWebhooks},
	{"fairness", runFairness},
	{"broadcasts", runBroadcasts},
	{"optouts", runOptOuts},
	{"memory", runMemory},
}

// Benchmarks returns the names Options.Only takes, in the order they run.
func Benchmarks() []string {
	names := make([]string, len(benchmarks))
	for i, b := range benchmarks {
		names[i] = b.name
	}
	return names
}

// Run runs the benchmarks, logging progress to out, and writes the report to opts.Out. A benchmark that fails is
// reported with its error and the others still run; Run fails only on options it can't use, or a database or Redis
// it can't reach.
func Run(ctx context.Context, opts Options, out io.Writer) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	opts.defaults()

	dir, err := os.MkdirTemp("", "optout-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	r := &run{
		opts:  opts,
		sizes: sizesFor(opts),
		log:   out,
		dir:   dir,
		report: &Report{
			Mode:    map[bool]string{true: "short", false: "full"}[opts.Short],
			Started: time.Now().UTC(),
			Repeats: opts.Repeats,
		},
		adminToken: randomToken(),
	}
	if r.report.Machine, err = describeMachine(ctx, opts); err != nil {
		return nil, err
	}
	if r.targets, err = openTargets(ctx, opts, dir); err != nil {
		return nil, err
	}
	defer closeTargets(r.targets)
	if opts.DB == "" {
		r.report.Skipped = append(r.report.Skipped, "PostgreSQL: no database was given, so only the embedded store was measured")
	}
	if r.receiver, err = startReceiver(); err != nil {
		return nil, err
	}
	defer r.receiver.close()

	for _, b := range benchmarks {
		if len(opts.Only) > 0 && !slices.Contains(opts.Only, b.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return r.report, err
		}
		started := time.Now()
		r.logf("== %s", b.name)
		if err := b.run(ctx, r); err != nil {
			if ctx.Err() != nil {
				return r.report, ctx.Err()
			}
			r.fail(b.name, err)
		}
		r.logf("== %s done in %s", b.name, time.Since(started).Round(time.Second))
	}
	r.report.Duration = time.Since(r.report.Started)

	if opts.Out != "" {
		if err := os.WriteFile(opts.Out, r.report.Markdown(), 0o644); err != nil {
			return r.report, fmt.Errorf("writing the report: %w", err)
		}
		r.logf("wrote %s", opts.Out)
	}
	return r.report, nil
}

func (o *Options) check() error {
	var errs []error
	if o.Binary == "" {
		errs = append(errs, errors.New("binary: is required, the optout binary to run `optout serve` from"))
	} else if st, err := os.Stat(o.Binary); err != nil {
		errs = append(errs, fmt.Errorf("binary: %w", err))
	} else if st.IsDir() || st.Mode()&0o111 == 0 {
		errs = append(errs, fmt.Errorf("binary: %s is not an executable file", o.Binary))
	}
	for _, name := range o.Only {
		if !slices.Contains(Benchmarks(), name) {
			errs = append(errs, fmt.Errorf("only: %q is not a benchmark: give some of %s", name, strings.Join(Benchmarks(), ", ")))
		}
	}
	if o.Repeats < 0 {
		errs = append(errs, fmt.Errorf("repeats: %d is negative", o.Repeats))
	}
	if o.Contacts < 0 {
		errs = append(errs, fmt.Errorf("contacts: %d is negative", o.Contacts))
	} else if o.Contacts > 0 && o.Contacts < minContacts {
		errs = append(errs, fmt.Errorf("contacts: %d is fewer than %d, the least a tenth of which is a group", o.Contacts, minContacts))
	}
	if o.Soak < 0 {
		errs = append(errs, fmt.Errorf("soak: %s is negative", o.Soak))
	}
	if o.Redis != "" && o.DB == "" {
		errs = append(errs, errors.New("redis: is used beside PostgreSQL, so it needs db too"))
	}
	return errors.Join(errs...)
}

// minContacts is the smallest broadcast the benchmarks take: its tenth is still a group worth timing.
const minContacts = 100

func (o *Options) defaults() {
	if o.Repeats == 0 {
		o.Repeats = map[bool]int{true: 2, false: 3}[o.Short]
	}
	if o.Contacts == 0 {
		o.Contacts = map[bool]int{true: 2000, false: 1_000_000}[o.Short]
	}
	if o.Soak == 0 {
		o.Soak = map[bool]time.Duration{true: 5 * time.Second, false: 10 * time.Minute}[o.Short]
	}
}

// run is the state of one Run.
type run struct {
	opts       Options
	sizes      sizes
	report     *Report
	log        io.Writer
	dir        string    // scratch files, removed at the end
	targets    []*target // the stores, the embedded one last
	receiver   *receiver
	adminToken string
}

func (r *run) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// add adds a result to the report and logs its line.
func (r *run) add(res *Result) {
	r.report.Results = append(r.report.Results, res)
	r.logf("%s", res.line(r.opts.Short))
}

// fail reports a benchmark that could not run.
func (r *run) fail(name string, err error) {
	r.add(&Result{Name: name, Err: err.Error()})
}

// repeat runs once, which measures each side of a benchmark in turn (A B), Repeats times (A B A B ...), and stops
// early once it reports that a side reached its cap, as another repeat would only reach it again.
func (r *run) repeat(once func(i int) (capped bool, err error)) error {
	for i := range r.opts.Repeats {
		capped, err := once(i)
		if err != nil || capped {
			return err
		}
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sizes are what the mode measures with.
type sizes struct {
	keywordTime     time.Duration // each side of the keyword benchmarks, per repeat
	warmup, window  time.Duration // of the service's message load
	baselineWindow  time.Duration // of the upsert transactions
	contactsPerConn int           // contacts each client of the message load writes to
	concurrencies   []int
	profileMessages int // messages counted through the round-trip proxies
	webhookEvents   int
	fairnessCap     time.Duration // longest wait for the other workspace's event
	soakSample      time.Duration
}

func sizesFor(o Options) sizes {
	if o.Short {
		return sizes{
			keywordTime: 50 * time.Millisecond,
			warmup:      100 * time.Millisecond, window: 500 * time.Millisecond, baselineWindow: 250 * time.Millisecond,
			contactsPerConn: 4, concurrencies: []int{1, 16, 64},
			profileMessages: 50, webhookEvents: 300, fairnessCap: 5 * time.Second, soakSample: time.Second,
		}
	}
	return sizes{
		keywordTime: time.Second,
		warmup:      time.Second, window: 5 * time.Second, baselineWindow: 3 * time.Second,
		contactsPerConn: 20, concurrencies: []int{1, 16, 64},
		profileMessages: 500, webhookEvents: 10000, fairnessCap: 30 * time.Second, soakSample: 10 * time.Second,
	}
}
