package main

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/optout-dev/optout/bench"
	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/store"
)

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure the service against this machine's limits and write BENCHMARKS.md",
		Long: "Runs every benchmark and writes BENCHMARKS.md: each figure is a ratio of the service against what the\n" +
			"machine does without it (single-row upserts through the same driver, one SQL pass over a group, a plain loop\n" +
			"of webhook POSTs, goflow's stock switch router), both sides measured in turn in this one run, on the same\n" +
			"data, with the target each must meet. The service is this binary's own `optout serve`, run on the embedded\n" +
			"store and, with --db, on PostgreSQL (in a schema of the run's own, dropped afterwards) and Redis.\n\n" +
			"The full run takes about an hour on two cores; --short runs every benchmark with small sizes in about a\n" +
			"minute and a half, to check the harness, and judges no target. The machine should be otherwise idle: each\n" +
			"result reports the CPU that other processes used during it.",
		Args: noArgs,
	}
	flags := cmd.Flags()
	short := flags.Bool("short", false, "small sizes: checks that every benchmark runs, judges no target")
	db := flags.String("db", "", "PostgreSQL `URL` to measure on too (not read from OPTOUT_DB, which may be a production database)")
	redis := flags.String("redis", "", "Redis `URL` to use beside --db")
	binary := flags.String("binary", "", "the optout `BINARY` to measure (default: this one)")
	only := flags.StringSlice("only", nil, "run only these `BENCHMARKS`: "+strings.Join(bench.Benchmarks(), ", "))
	repeats := flags.Int("repeats", 0, "times each side is measured, in turn with the other (default 3, or 2 with --short)")
	out := flags.String("out", "BENCHMARKS.md", "`FILE` the report is written to")
	contacts := flags.Int("contacts", 0, "contacts of the broadcast and rows of the opt-out lists (default 1,000,000, or 2,000 with --short)")
	soak := flags.Duration("soak", 0, "length of the memory soak (default 10m, or 5s with --short)")

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := store.CheckPostgresURL(*db); err != nil {
			return usagef("--db: %s", err)
		}
		for _, name := range *only {
			if !slices.Contains(bench.Benchmarks(), name) {
				return usagef("--only: %s is not a benchmark: give some of %s", quote.Q(name), strings.Join(bench.Benchmarks(), ", "))
			}
		}
		if *binary == "" {
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding this binary: %w", err)
			}
			*binary = self
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()

		report, err := bench.Run(ctx, bench.Options{
			Short: *short, DB: *db, Redis: *redis, Binary: *binary, Only: *only, Repeats: *repeats, Out: *out,
			Contacts: *contacts, Soak: *soak,
		}, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		verdicts := map[string]int{}
		for _, r := range report.Results {
			verdicts[r.Verdict()]++
		}
		if *short {
			fmt.Fprintf(cmd.OutOrStdout(), "%d results, %d failed to run; targets are not judged at the short mode's sizes; see %s\n",
				len(report.Results), verdicts["error"], quote.Q(*out))
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "%d results: %d met their targets, %d missed them, %d reported without a target, %d failed to run; see %s\n",
				len(report.Results), verdicts["pass"], verdicts["fail"], verdicts[""], verdicts["error"], quote.Q(*out))
		}
		return nil
	}
	return cmd
}
