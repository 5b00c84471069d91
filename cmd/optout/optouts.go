package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/optout-dev/optout/cluster"
	"github.com/optout-dev/optout/metrics"
	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

func runImportOptOuts(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("import-optouts", "--workspace WS [FLAGS] FILE.csv",
		"Opts out every contact in FILE.csv, a CSV with a header and at least a urn column (name, language and\n"+
			"opted_out_on are read too, as export-optouts writes them). Every row is checked first: bad rows are\n"+
			"reported by line number and then nothing is imported; the rows that pass are imported in one\n"+
			"transaction. The changes are audited with source import and send no webhook. Reads the same store\n"+
			"settings as serve.", stderr)
	set := &settings{fs: fs}
	workspace := fs.String("workspace", "", "`ID` of the workspace to import into")
	st := set.store()
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := set.check(); err != nil {
		return err
	}
	if *workspace == "" || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "optout import-optouts: --workspace and one FILE are required")
		fs.Usage()
		return errUsage
	}

	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := service.ReadOptOutsCSV(f)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}

	return withService(st, stderr, func(ctx context.Context, svc *service.Service) error {
		bar := newProgress(stderr, "importing", len(rows))
		result, err := svc.ImportOptOuts(ctx, *workspace, rows, bar.set)
		bar.done()
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		return enc.Encode(result)
	})
}

func runExportOptOuts(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("export-optouts", "--workspace WS [--output FILE] [FLAGS]",
		"Writes the workspace's opted-out contacts as CSV (urn, uuid, name, language, opted_out_on), which\n"+
			"import-optouts reads. Reads the same store settings as serve.", stderr)
	set := &settings{fs: fs}
	workspace := fs.String("workspace", "", "`ID` of the workspace to export")
	output := fs.String("output", "", "`FILE` to write, standard output when not given")
	st := set.store()
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := set.check(); err != nil {
		return err
	}
	if *workspace == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "optout export-optouts: --workspace is required and takes no arguments")
		fs.Usage()
		return errUsage
	}

	out := stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	return withService(st, stderr, func(ctx context.Context, svc *service.Service) error {
		bar := newProgress(stderr, "exporting", -1)
		err := svc.WriteOptOutsCSV(ctx, *workspace, out, bar.set)
		bar.done()
		return err
	})
}

// withService opens the store and Redis as serve does and runs fn with a service over them.
func withService(st *storeSettings, stderr io.Writer, fn func(context.Context, *service.Service) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	s, err := store.Open(ctx, st.dsn())
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer s.Close()
	coord, err := cluster.New(*st.redis, s, log)
	if err != nil {
		return fmt.Errorf("connecting to Redis: %w", err)
	}
	defer coord.Close()

	svc := service.New(service.Options{Store: s, Cluster: coord, Policy: &webhook.Policy{}, Metrics: &metrics.Registry{}, Log: log})
	return fn(ctx, svc)
}
