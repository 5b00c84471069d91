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

	"github.com/spf13/cobra"

	"github.com/optout-dev/optout/cluster"
	"github.com/optout-dev/optout/metrics"
	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

func newImportOptOutsCommand() *cobra.Command {
	return newListImportCommand("import-optouts", "Opt out the contacts of a CSV list",
		"Opts out every contact in FILE.csv (- for standard input), a CSV with a header and a urn column, or a\n"+
			"phone column of numbers with their country code (name, language and opted_out_on are read too, as\n"+
			"export-optouts writes them), separated by commas or semicolons. Every row is checked first: bad rows are\n"+
			"reported by line number and then nothing is imported; the rows that pass are read again and imported\n"+
			"a page at a time, in one transaction (standard input is copied to a temporary file, to be read twice).\n"+
			"The changes are audited with source import and send no webhook. Reads the same store settings as serve.",
		func(ctx context.Context, svc *service.Service, workspace string, in io.Reader, progress func(total int) func(int)) (any, error) {
			list, done, err := rereadable(in)
			if err != nil {
				return nil, err
			}
			defer done()
			optOuts, err := service.ReadOptOutsCSV(list)
			if err != nil {
				return nil, err
			}
			return svc.ImportOptOuts(ctx, workspace, optOuts, progress(optOuts.Len()))
		})
}

// rereadable gives a list that import-optouts can read twice, once to check every row and then to import them, without
// holding it: the file itself, or a temporary copy of standard input read from a pipe. done removes the copy.
func rereadable(in io.Reader) (list io.ReadSeeker, done func(), err error) {
	if f, ok := in.(io.ReadSeeker); ok {
		if _, err := f.Seek(0, io.SeekCurrent); err == nil {
			return f, func() {}, nil
		}
	}
	tmp, err := os.CreateTemp("", "optout-import-*.csv")
	if err != nil {
		return nil, nil, err
	}
	done = func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	if _, err := io.Copy(tmp, in); err != nil {
		done()
		return nil, nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		done()
		return nil, nil, err
	}
	return tmp, done, nil
}

func newImportContactsCommand() *cobra.Command {
	return newListImportCommand("import-contacts", "Create or update the contacts of a CSV list",
		"Creates or updates every contact in FILE.csv (- for standard input), a CSV with a header and a urn (or\n"+
			"phone) column, and name, language, group or groups (names separated by commas or semicolons) and\n"+
			"field:KEY columns, separated by commas or semicolons. Every row is checked first: bad rows are reported\n"+
			"by line number and then nothing is imported. Groups and fields the workspace hasn't are created; the\n"+
			"contacts are written in one transaction. Consent is import-optouts'. Reads the same store settings as serve.",
		func(ctx context.Context, svc *service.Service, workspace string, in io.Reader, progress func(total int) func(int)) (any, error) {
			rows, err := service.ReadContactsCSV(in)
			if err != nil {
				return nil, err
			}
			return svc.ImportContacts(ctx, workspace, rows, progress(len(rows)))
		})
}

func newImportCommand() *cobra.Command {
	return newListImportCommand("import", "Import a RapidPro export into a workspace",
		"Imports FILE (- for standard input), a RapidPro export or a flow definition, into the workspace, as\n"+
			"POST .../import does: its flows, fields, groups, triggers and campaigns; the fields and groups its flows\n"+
			"use that nobody has are created, and a flow that enters a missing flow refuses it all. No size limit but\n"+
			"the machine's. Reads the same store settings as serve.",
		func(ctx context.Context, svc *service.Service, workspace string, in io.Reader, _ func(int) func(int)) (any, error) {
			data, err := io.ReadAll(in)
			if err != nil {
				return nil, err
			}
			return svc.Import(ctx, workspace, data)
		})
}

// newListImportCommand makes a command that reads FILE, or standard input for -, into a workspace through the
// service, with a progress bar for the rows, and prints the summary import returns as JSON.
func newListImportCommand(name, short, long string, imp func(ctx context.Context, svc *service.Service, workspace string, in io.Reader, progress func(total int) func(int)) (any, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name + " --workspace WS [flags] FILE",
		Short: short,
		Long:  long,
		Args: func(_ *cobra.Command, files []string) error {
			if len(files) != 1 {
				return fmt.Errorf("takes one FILE (- for standard input), not %d", len(files))
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
		in := cmd.InOrStdin()
		if files[0] != "-" {
			f, err := os.Open(files[0])
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		return withService(cmd, st, func(ctx context.Context, svc *service.Service) error {
			var bar *progress
			result, err := imp(ctx, svc, *workspace, in, func(total int) func(int) {
				bar = newProgress(cmd.ErrOrStderr(), "importing", total)
				return bar.set
			})
			if bar != nil {
				bar.done()
			}
			if err != nil {
				return fmt.Errorf("%s: %w", files[0], err)
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
