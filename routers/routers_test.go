package routers_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/internal/flowtest"
	"github.com/optout-dev/optout/routers"
)

const holderFlowUUID = assets.FlowUUID("16f6eee7-9843-4333-bad2-1d7fd636452c")

// TestRouterTypes runs the cases in testdata/<type>.json for each of the plugin's router types. A case that gives no
// router runs the one in testdata/_flow.json. Run with -update to rewrite the expected values, then read the diff.
func TestRouterTypes(t *testing.T) {
	holder, err := os.ReadFile("testdata/_flow.json")
	require.NoError(t, err)

	for name := range routers.RegisteredTypes() {
		t.Run(name, func(t *testing.T) { testRouterType(t, holder, name) })
	}
}

// routerCase is a case of testdata/<type>.json.
type routerCase struct {
	Description string `json:"description"`
	flowtest.Setup
	Router json.RawMessage `json:"router,omitempty"`

	ReadError  string          `json:"read_error,omitempty"`
	Results    json.RawMessage `json:"results,omitempty"`
	Events     json.RawMessage `json:"events,omitempty"`
	Templates  []string        `json:"templates,omitempty"`
	Inspection json.RawMessage `json:"inspection,omitempty"`
}

func testRouterType(t *testing.T, holder []byte, typeName string) {
	path := fmt.Sprintf("testdata/%s.json", typeName)

	flowtest.RunCases(t, path, func(t *testing.T, tc routerCase) routerCase {
		msg := fmt.Sprintf("%s: %s", path, tc.Description)

		def := holder
		if tc.Router != nil {
			def = test.JSONReplace(holder, []string{"nodes", "[0]", "router"}, tc.Router)
		}
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
		if tc.Router != nil {
			actual.Router = jsonx.MustMarshal(flow.Nodes()[0].Router())
		}
		actual.Results = jsonx.MustMarshal(session.Runs()[0].Results())
		evts := sprint.Events()
		actual.Events = jsonx.MustMarshal(evts[1 : len(evts)-1]) // without run_started and run_ended
		if tc.Templates != nil {
			actual.Templates = flow.ExtractTemplates()
		}
		if tc.Inspection != nil {
			actual.Inspection = jsonx.MustMarshal(flow.Inspect(sa))
		}

		if !test.UpdateSnapshots {
			test.AssertEqualJSON(t, tc.Router, actual.Router, "marshal mismatch in %s", msg)
			test.AssertEqualJSON(t, tc.Results, actual.Results, "results mismatch in %s", msg)
			test.AssertEqualJSON(t, tc.Events, actual.Events, "events mismatch in %s", msg)
			assert.Equal(t, tc.Templates, actual.Templates, "templates mismatch in %s", msg)
			test.AssertEqualJSON(t, tc.Inspection, actual.Inspection, "inspection mismatch in %s", msg)
		}
		return actual
	})
}
