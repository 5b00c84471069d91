package main

import (
	_ "github.com/optout-dev/optout/engine" // registers the plugin types that flows validate checks for

	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/optout-dev/optout/export"
)

func runFlowsValidate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("flows validate", "FILE...",
		"Reads each FILE as a RapidPro export or a single flow definition, migrating older flows to the current spec,\n"+
			"and validates every flow with goflow, the plugin's action and router types included. Prints one line per\n"+
			"FILE, then one per asset that its flows use and it doesn't carry: fields and groups, which import creates,\n"+
			"and warnings for channels, templates, labels and the like, which it doesn't. Exits with 1 if any FILE is\n"+
			"invalid, which includes flows using a flow that isn't in the FILE.", stderr)
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
		v := validate(path)
		v.writeText(stdout, stderr)
		if !v.valid() {
			invalid++
		}
	}
	if invalid > 0 {
		return fmt.Errorf("%d of %d files are invalid", invalid, fs.NArg())
	}
	return nil
}

// validation is what flows validate finds in a file: the export it reads, or why it can't, and the dependencies of the
// export's flows.
type validation struct {
	path         string
	export       *export.Export
	err          error
	dependencies []*export.Dependency
}

func validate(path string) *validation {
	v := &validation{path: path}
	data, err := os.ReadFile(path)
	if err != nil {
		v.err = err
		return v
	}
	if v.export, v.err = export.Read(data); v.err != nil {
		return v
	}
	v.dependencies, v.err = v.export.Dependencies(nil)
	return v
}

// valid says whether the file can be imported: it reads, and it has no dependency that stops an import.
func (v *validation) valid() bool {
	return v.err == nil && !slices.ContainsFunc(v.dependencies, func(d *export.Dependency) bool { return d.Effect == export.EffectRefuse })
}

// writeText writes the validation as lines that each start with the file's path: whether it's ok, then one line per
// dependency, with why it's invalid on stderr.
func (v *validation) writeText(stdout, stderr io.Writer) {
	if v.err != nil {
		fmt.Fprintf(stderr, "%s: invalid: %s\n", v.path, v.err)
		return
	}
	if v.valid() {
		e := v.export
		fmt.Fprintf(stdout, "%s: ok (%d flows, %d fields, %d groups, %d triggers, %d campaigns)\n",
			v.path, len(e.Flows), len(e.Fields), len(e.Groups), len(e.Triggers), len(e.Campaigns))
	}

	for _, d := range v.dependencies {
		users := make([]string, len(d.Flows))
		for i, f := range d.Flows {
			users[i] = fmt.Sprintf("%q", f.Name)
		}
		usedBy := strings.Join(users, ", ")

		switch {
		case d.Effect == export.EffectCreate:
			fmt.Fprintf(stdout, "%s: creates %s (used by %s)\n", v.path, d, usedBy)
		case d.Effect == export.EffectWarn:
			fmt.Fprintf(stdout, "%s: warning: %s isn't in the export (used by %s)\n", v.path, d, usedBy)
		case d.Problem != "":
			fmt.Fprintf(stderr, "%s: invalid: %s can't be created: %s (used by %s)\n", v.path, d, d.Problem, usedBy)
		default:
			fmt.Fprintf(stderr, "%s: invalid: %s isn't in the export (used by %s)\n", v.path, d, usedBy)
		}
	}
}
