// Package flows holds the plugin's importable RapidPro exports, embedded so that the engine can run the system flow
// and the CLI can print them without reading the repository's files:
//
//   - optout.json is the system flow the interceptor runs, built from the plugin's keyword router and its opt_out
//     and opt_in actions; a host with the plugin runs it, and flows of designers' own can enter it.
//   - optout_portable.json does the same with stock goflow actions and routers only, for platforms without the
//     plugin.
package flows

import (
	"embed"
)

// Exports is the directory of exports, by file name.
//
//go:embed *.json
var Exports embed.FS

// The exports, by file name.
const (
	Plugin   = "optout.json"
	Portable = "optout_portable.json"
)

// SystemFlowUUID is the UUID of the flow in the plugin export, which the interceptor starts on a keyword.
const SystemFlowUUID = "a9c4f1f3-0d0c-4d2b-9a57-3d2f8c1b6e01"
