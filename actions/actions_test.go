package actions_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/actions"
	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/internal/flowtest"
)

const holderFlowUUID = assets.FlowUUID("bead76f5-dac4-4c9d-996c-c62b326e8c0a")

// TestActionTypes runs the cases in testdata/<type>.json for each of the plugin's action types. Run with -update to
// rewrite the expected values from what the actions do, then read the diff.
func TestActionTypes(t *testing.T) {
	holder, err := os.ReadFile("testdata/_flow.json")
	require.NoError(t, err)

	names := slices.Sorted(func(yield func(string) bool) {
		for name := range actions.RegisteredTypes() {
			if !yield(name) {
				return
			}
		}
	})
	for _, name := range names {
		t.Run(name, func(t *testing.T) { testActionType(t, holder, name) })
	}
}

// actionCase is a case of testdata/<type>.json.
type actionCase struct {
	Description string `json:"description"`
	flowtest.Setup
	Action json.RawMessage `json:"action"`

	ReadError    string          `json:"read_error,omitempty"`
	Events       json.RawMessage `json:"events,omitempty"`
	ContactAfter json.RawMessage `json:"contact_after,omitempty"`
	Inspection   json.RawMessage `json:"inspection,omitempty"`
}

func testActionType(t *testing.T, holder []byte, typeName string) {
	path := fmt.Sprintf("testdata/%s.json", typeName)

	flowtest.RunCases(t, path, func(t *testing.T, tc actionCase) actionCase {
		msg := fmt.Sprintf("%s: %s", path, tc.Description)

		def := test.JSONReplace(holder, []string{"nodes", "[0]", "actions"}, fmt.Appendf(nil, "[%s]", tc.Action))
		if tc.ReadError != "" {
			_, err := export.Read(def)
			assert.EqualError(t, test.RootError(err), tc.ReadError, msg)
			return tc
		}
		sa := flowtest.SessionAssets(t, tc.Config, def)
		flow, err := sa.Flows().Get(holderFlowUUID)
		require.NoError(t, err, msg)

		session, sprint := tc.Start(t, sa, holderFlowUUID)

		actual := tc
		actual.Action = jsonx.MustMarshal(flow.Nodes()[0].Actions()[0])
		evts := sprint.Events()
		actual.Events = jsonx.MustMarshal(evts[1 : len(evts)-1]) // without run_started and run_ended
		actual.ContactAfter = jsonx.MustMarshal(session.Contact())
		actual.Inspection = jsonx.MustMarshal(flow.Inspect(sa))

		if !test.UpdateSnapshots {
			test.AssertEqualJSON(t, tc.Action, actual.Action, "marshal mismatch in %s", msg)
			test.AssertEqualJSON(t, tc.Events, actual.Events, "events mismatch in %s", msg)
			test.AssertEqualJSON(t, tc.ContactAfter, actual.ContactAfter, "contact mismatch in %s", msg)
			test.AssertEqualJSON(t, tc.Inspection, actual.Inspection, "inspection mismatch in %s", msg)
		}
		return actual
	})
}
