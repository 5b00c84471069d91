package main

import (
	_ "github.com/optout-dev/optout/engine" // registers the plugin types that flows validate checks for

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nyaruka/goflow/assets"
	"github.com/spf13/cobra"

	"github.com/optout-dev/optout/export"
)

func newFlowsValidateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate [flags] FILE...",
		Short: "Check that files are valid flow exports or flows",
		Long: "Reads each FILE as a RapidPro export or a single flow definition, migrating older flows to the current spec,\n" +
			"and validates every flow with goflow, the plugin's action and router types included. Prints one line per\n" +
			"FILE, then one per asset that its flows use and it doesn't carry: fields and groups, which import creates,\n" +
			"and warnings for channels, templates, labels and the like, which it doesn't. Every line starts with its\n" +
			"FILE, and one that isn't JSON is named with the line and column of the first mistake, as FILE:LINE:COLUMN.\n" +
			"Exits with 1 if any FILE is invalid, which includes flows using a flow that isn't in the FILE.\n\n" +
			"With --json, prints one JSON object per FILE instead, one per line: file, ok, counts (of flows, fields,\n" +
			"groups, triggers and campaigns), dependencies (type, identity, name, used_by, effect: create, warn or\n" +
			"refuse, and problem) and errors (message, and line and column for JSON syntax).",
		Args: someArgs("no FILE to validate"),
	}
	asJSON := cmd.Flags().Bool("json", false, "print one JSON object per FILE, for machines")

	cmd.RunE = func(cmd *cobra.Command, files []string) error {
		out := cmd.OutOrStdout()
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		invalid := 0
		for _, path := range files {
			v := validate(path)
			if *asJSON {
				if err := enc.Encode(v.report()); err != nil {
					return err
				}
			} else {
				v.writeText(out)
			}
			if len(v.errors()) > 0 {
				invalid++
			}
		}
		if invalid > 0 {
			return fmt.Errorf("%d of %d files are invalid", invalid, len(files))
		}
		return nil
	}
	return cmd
}

// validation is what flows validate finds in a file: the export it reads, or why it can't and where, and the
// dependencies of the export's flows.
type validation struct {
	path         string
	export       *export.Export
	err          error
	line, column int // of a JSON syntax error
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
		var syntaxErr *json.SyntaxError
		if errors.As(v.err, &syntaxErr) {
			v.line, v.column = position(data, syntaxErr.Offset)
		}
		return v
	}
	v.dependencies, v.err = v.export.Dependencies(nil)
	return v
}

// position returns the line and column, counted from 1, of the byte at fault in data when encoding/json reports an
// offset, which is just past it. Columns count bytes, as the Go toolchain's do.
func position(data []byte, offset int64) (line, column int) {
	at := max(0, min(int(offset), len(data))-1)
	line = 1 + bytes.Count(data[:at], []byte("\n"))
	column = at - bytes.LastIndexByte(data[:at], '\n')
	return line, column
}

// validationError is a reason a file can't be imported.
type validationError struct {
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

// errors returns why the file can't be imported: it doesn't read, or dependencies stop an import. None means it's valid.
func (v *validation) errors() []*validationError {
	if v.err != nil {
		return []*validationError{{Message: v.err.Error(), Line: v.line, Column: v.column}}
	}
	var errs []*validationError
	for _, d := range v.dependencies {
		switch {
		case d.Effect != export.EffectRefuse:
		case d.Problem != "":
			errs = append(errs, &validationError{Message: fmt.Sprintf("%s can't be created: %s (used by %s)", d, d.Problem, usedBy(d))})
		default:
			errs = append(errs, &validationError{Message: fmt.Sprintf("%s isn't in the export (used by %s)", d, usedBy(d))})
		}
	}
	return errs
}

func usedBy(d *export.Dependency) string {
	names := make([]string, len(d.Flows))
	for i, f := range d.Flows {
		names[i] = fmt.Sprintf("%q", f.Name)
	}
	return strings.Join(names, ", ")
}

// writeText writes the validation as lines that each start with the file's path, on one stream so that they read in
// order: whether it's ok, then one line per dependency, an invalid one saying why.
func (v *validation) writeText(w io.Writer) {
	if v.err != nil {
		at := v.path
		if v.line > 0 {
			at = fmt.Sprintf("%s:%d:%d", v.path, v.line, v.column)
		}
		fmt.Fprintf(w, "%s: invalid: %s\n", at, v.err)
		return
	}
	if len(v.errors()) == 0 {
		e := v.export
		fmt.Fprintf(w, "%s: ok (%d flows, %d fields, %d groups, %d triggers, %d campaigns)\n",
			v.path, len(e.Flows), len(e.Fields), len(e.Groups), len(e.Triggers), len(e.Campaigns))
	}
	for _, d := range v.dependencies {
		switch d.Effect {
		case export.EffectCreate:
			fmt.Fprintf(w, "%s: creates %s (used by %s)\n", v.path, d, usedBy(d))
		case export.EffectWarn:
			fmt.Fprintf(w, "%s: warning: %s isn't in the export (used by %s)\n", v.path, d, usedBy(d))
		}
	}
	for _, e := range v.errors() {
		fmt.Fprintf(w, "%s: invalid: %s\n", v.path, e.Message)
	}
}

// validationReport is what flows validate --json writes for a file.
type validationReport struct {
	File         string              `json:"file"`
	OK           bool                `json:"ok"`
	Counts       *exportCounts       `json:"counts,omitempty"`
	Dependencies []*dependencyReport `json:"dependencies"`
	Errors       []*validationError  `json:"errors"`
}

type exportCounts struct {
	Flows     int `json:"flows"`
	Fields    int `json:"fields"`
	Groups    int `json:"groups"`
	Triggers  int `json:"triggers"`
	Campaigns int `json:"campaigns"`
}

type dependencyReport struct {
	Type     string                  `json:"type"`
	Identity string                  `json:"identity"`
	Name     string                  `json:"name,omitempty"`
	UsedBy   []*assets.FlowReference `json:"used_by"`
	Effect   export.Effect           `json:"effect"`
	Problem  string                  `json:"problem,omitempty"`
}

func (v *validation) report() *validationReport {
	r := &validationReport{File: v.path, Dependencies: []*dependencyReport{}, Errors: v.errors()}
	if r.Errors == nil {
		r.Errors = []*validationError{}
	}
	r.OK = len(r.Errors) == 0
	if e := v.export; e != nil {
		r.Counts = &exportCounts{Flows: len(e.Flows), Fields: len(e.Fields), Groups: len(e.Groups), Triggers: len(e.Triggers), Campaigns: len(e.Campaigns)}
	}
	for _, d := range v.dependencies {
		r.Dependencies = append(r.Dependencies, &dependencyReport{
			Type: d.Type, Identity: d.Identity, Name: d.Name, UsedBy: d.Flows, Effect: d.Effect, Problem: d.Problem,
		})
	}
	return r
}
