// Command optout is the opt-out plugin's one binary: it checks messages against the keyword catalog, chats with a
// flow in the terminal, validates flow exports, runs the service, and moves opt-out lists in and out of it.
//
// Its command line is cobra's: flags go before or after arguments, every command has --help, and `optout
// completion` writes shell completions. It exits with 0 when it did what it was asked, 1 when it failed, and 2 when
// it was asked wrongly (an unknown command or flag, a missing argument, a setting that isn't what it should be).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// newRootCommand returns the command tree. A new command is a constructor like those below, added to the list.
func newRootCommand() *cobra.Command {
	root := newGroup("optout", "The opt-out plugin for goflow: keywords, flows and the service",
		newCheckCommand(),
		newSimulateCommand(),
		newGroup("flows", "Work with flow exports", newFlowsValidateCommand()),
		newServeCommand(),
		newImportCommand(),
		newImportContactsCommand(),
		newImportOptOutsCommand(),
		newExportOptOutsCommand(),
		newBenchCommand(),
		newVersionCommand(),
	)
	root.Long = "optout is the opt-out plugin's one binary: it checks messages against the keyword catalog, chats with\n" +
		"a flow in the terminal, validates flow exports, runs the service, moves opt-out lists in and out of it, and measures it."
	root.Version = versions()
	root.SetVersionTemplate("{{.Version}}")
	root.SetFlagErrorFunc(flagError)
	root.SilenceErrors = true // run reports them, choosing the exit code
	root.SilenceUsage = true
	return root
}

// run runs the command line as the binary does and returns its exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand()
	markFailures(root)
	root.SetArgs(append([]string{}, args...)) // never nil, which would make cobra read os.Args
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)

	cmd, err := root.ExecuteC()
	var usage *usageError
	var failed *failure
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsageShown):
		return 2
	case errors.As(err, &usage) || !errors.As(err, &failed):
		problems := []string{err.Error()}
		if usage != nil {
			problems = usage.problems
		}
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), p)
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), failed.err)
		return 1
	}
}

// usageError is a mistake in how a command was called, found as it runs: it exits with 2 and the problems, each
// naming what it is about.
type usageError struct {
	problems []string
}

func (e *usageError) Error() string {
	return strings.Join(e.problems, "; ")
}

func usagef(format string, args ...any) error {
	return &usageError{problems: []string{fmt.Sprintf(format, args...)}}
}

// errUsageShown is returned by a command that has printed its usage as the answer to being called wrongly.
var errUsageShown = errors.New("usage shown")

// failure is an error that a command returned as it ran. Every other error that cobra returns is about how the
// command was called, an unknown flag or a missing argument, and exits with 2.
type failure struct {
	err error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// markFailures makes the errors that the commands of the tree return as they run failures.
func markFailures(cmd *cobra.Command) {
	if runE := cmd.RunE; runE != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			if err := runE(cmd, args); err != nil {
				return &failure{err: err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		markFailures(sub)
	}
}

// flagError words pflag's errors: an unknown flag as pflag does, and a value a flag refuses naming the flag.
func flagError(_ *cobra.Command, err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		return usagef("%s", invalidValue(invalid.GetFlag(), invalid.GetValue(), "", invalid.Unwrap()))
	}
	return usagef("%s", err)
}

// someArgs requires at least one argument, saying what is missing when there is none.
func someArgs(missing string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return errors.New(missing)
		}
		return nil
	}
}

// noArgs refuses arguments to a command that takes none, which cobra's NoArgs calls unknown commands.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("takes no arguments, not %q", args[0])
	}
	return nil
}

// newGroup returns a command that holds subcommands. Called alone it prints its usage and exits with 2, and called with
// a subcommand it doesn't have it says so, where cobra would answer both with help and 0.
func newGroup(use, short string, subcommands ...*cobra.Command) *cobra.Command {
	group := &cobra.Command{
		Use:                        use,
		Short:                      short,
		SuggestionsMinimumDistance: 2,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			if suggestions := cmd.SuggestionsFor(args[0]); len(suggestions) > 0 {
				return fmt.Errorf("unknown command %q (did you mean %s?)", args[0], strings.Join(suggestions, " or "))
			}
			return fmt.Errorf("unknown command %q", args[0])
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return errUsageShown
		},
	}
	group.AddCommand(subcommands...)
	return group
}
