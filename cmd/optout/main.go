// Command optout is the opt-out plugin's one binary: it checks messages against the keyword catalog, chats with a
// flow in the terminal, validates flow exports, runs the service, and moves opt-out lists in and out of it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// command is one subcommand: its name as typed, a line for the overview, and what runs it.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var commands = []command{
	{"check", "print the intent, language and keyword of each text", runCheck},
	{"simulate", "chat with a flow in the terminal with the plugin active", runSimulate},
	{"flows validate", "check that files are valid flow exports or flows", runFlowsValidate},
	{"serve", "run the service: HTTP API, webhooks, campaigns", runServe},
	{"import-optouts", "opt out the contacts of a CSV list", runImportOptOuts},
	{"export-optouts", "write a workspace's opted-out contacts as CSV", runExportOptOuts},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks an error in how the command was called, which exits with 2 like flag does.
var errUsage = errors.New("usage")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	for _, cmd := range commands {
		words := strings.Fields(cmd.name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			err := cmd.run(args[len(words):], stdin, stdout, stderr)
			switch {
			case err == nil, errors.Is(err, flag.ErrHelp):
				return 0
			case errors.Is(err, errUsage):
				return 2
			default:
				fmt.Fprintf(stderr, "optout %s: %s\n", cmd.name, err)
				return 1
			}
		}
	}

	if len(args) > 0 && args[0] != "help" && args[0] != "-h" && args[0] != "--help" {
		fmt.Fprintf(stderr, "optout: unknown command %q\n\n", strings.Join(args, " "))
		usage(stderr)
		return 2
	}
	usage(stdout)
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: optout COMMAND [FLAGS] [ARGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run optout COMMAND --help for the flags of a command.")
}

// newFlagSet returns a flag set whose --help prints the command's usage line and description, then its flags.
func newFlagSet(name, args, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: optout %s %s\n\n%s\n", name, args, description)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses the flags, turning a parse error (already reported by the flag set) into errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
