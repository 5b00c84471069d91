package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/optout-dev/optout/cluster"
	"github.com/optout-dev/optout/metrics"
	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

func newImportOptOutsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import-optouts --workspace WS [flags] FILE.csv",
		Short: "Opt out the contacts of a CSV list",
		Long: "Opts out every contact in FILE.csv, a CSV with a header and at least a urn column (name, language and\n" +
			"opted_out_on are read too, as export-optouts writes them). Every row is checked first: bad rows are\n" +
			"reported by line number and then nothing is imported; the rows that pass are imported in one\n" +
			"transaction. The changes are audited with source import and send no webhook. Reads the same store\n" +
			"settings as serve.",
		Args: func(_ *cobra.Command, files []string) error {
			if len(files) != 1 {
				return fmt.Errorf("takes one FILE.csv, not %d", len(files))
			}
			return nil
		},
	}
	set := newSettings(cmd)
	workspace := workspaceFlag(cmd, "`ID` of the workspace to import into")
	st := set.store()

	cmd.RunE = func(cmd *cobra.Command, files []string) error {
		if err := set.resolve(); err != nil {
			return err
		}
		f, err := os.Open(files[0])
		if err != nil {
			return err
		}
		defer f.Close()
		rows, err := service.ReadOptOutsCSV(f)
		if err != nil {
			return fmt.Errorf("%s: %w", files[0], err)
		}

		return withService(cmd, st, func(ctx context.Context, svc *service.Service) error {
			bar := newProgress(cmd.ErrOrStderr(), "importing", len(rows))
			result, err := svc.ImportOptOuts(ctx, *workspace, rows, bar.set)
			bar.done()
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(result)
		})
	}
	return cmd
}

func newExportOptOutsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export-optouts --workspace WS [flags]",
		Short: "Write a workspace's opted-out contacts as CSV",
		Long: "Writes the workspace's opted-out contacts as CSV (urn, uuid, name, language, opted_out_on), which\n" +
			"import-optouts reads. Reads the same store settings as serve.",
		Args: noArgs,
	}
	set := newSettings(cmd)
	workspace := workspaceFlag(cmd, "`ID` of the workspace to export")
	output := cmd.Flags().String("output", "", "`FILE` to write, standard output when not given")
	st := set.store()

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := set.resolve(); err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *output != "" {
			f, err := os.Create(*output)
			if err != nil {
				return err
			}
			defer f.Close()
			out = f
		}
		return withService(cmd, st, func(ctx context.Context, svc *service.Service) error {
			bar := newProgress(cmd.ErrOrStderr(), "exporting", -1)
			err := svc.WriteOptOutsCSV(ctx, *workspace, out, bar.set)
			bar.done()
			return err
		})
	}
	return cmd
}

// workspaceFlag adds the required --workspace of the commands that work on one workspace's data.
func workspaceFlag(cmd *cobra.Command, usage string) *string {
	workspace := cmd.Flags().String("workspace", "", usage)
	if err := cmd.MarkFlagRequired("workspace"); err != nil {
		panic(err) // the flag was just added
	}
	return workspace
}

// withService opens the store and Redis as serve does and runs fn with a service over them.
func withService(cmd *cobra.Command, st *storeSettings, fn func(context.Context, *service.Service) error) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))

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
