package main

import (
	_ "github.com/optout-dev/optout/engine" // registers the plugin types that flows validate checks for

	"fmt"
	"io"
	"os"

	"github.com/optout-dev/optout/export"
)

func runFlowsValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("flows validate", "FILE...",
		"Reads each FILE as a RapidPro export or a single flow definition, migrating older flows to the current spec,\n"+
			"and validates every flow with goflow, the plugin's action and router types included. Prints one line per\n"+
			"FILE and exits with 1 if any is invalid.", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "optout flows validate: no FILE to validate")
		fs.Usage()
		return errUsage
	}

	invalid := 0
	for _, path := range fs.Args() {
		if err := validateFile(path, stdout); err != nil {
			fmt.Fprintf(stderr, "%s: invalid: %s\n", path, err)
			invalid++
		}
	}
	if invalid > 0 {
		return fmt.Errorf("%d of %d files are invalid", invalid, fs.NArg())
	}
	return nil
}

func validateFile(path string, stdout io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	exp, err := export.Read(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d flows, %d fields, %d groups, %d triggers, %d campaigns)\n",
		path, len(exp.Flows), len(exp.Fields), len(exp.Groups), len(exp.Triggers), len(exp.Campaigns))
	return nil
}
