package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// goflowModule is the module whose version optout version reports beside optout's own: the flow engine decides how
// flows behave, so a report about a flow needs both.
const goflowModule = "github.com/nyaruka/goflow"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of optout and of goflow in it",
		Long: "Prints the version of optout and of the goflow it was built with, from the build information the Go\n" +
			"toolchain writes into the binary: go install of a tagged version shows the tag, and a build from a work\n" +
			"tree shows (devel).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), versions())
			return err
		},
	}
}

// versions returns the lines that optout version prints.
func versions() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "optout unknown (built without module support)\n"
	}
	goflow := "unknown"
	for _, dep := range info.Deps {
		if dep.Path == goflowModule {
			if dep.Replace != nil {
				dep = dep.Replace
			}
			goflow = dep.Version
		}
	}
	return fmt.Sprintf("optout %s\ngoflow %s\n", info.Main.Version, goflow)
}
