package flowtest

import (
	"os"
	"testing"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/test"
	"github.com/stretchr/testify/require"
)

// RunCases runs the JSON test cases in the file at path, goflow's way: each is read into a T and given to run in a
// mocked universe (sequential UUIDs and times), which compares what happened with what the case expects and returns
// the case as it happened. With -update the file is rewritten with those instead, for the diff to be read.
func RunCases[T any](t *testing.T, path string, run func(t *testing.T, tc T) T) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var cases []T
	jsonx.MustUnmarshal(data, &cases)

	for i, tc := range cases {
		reset := test.MockUniverse()
		cases[i] = run(t, tc)
		reset()
	}

	if test.UpdateSnapshots {
		updated, err := jsonx.MarshalPretty(cases)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(updated, '\n'), 0666))
	}
}
