package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/assets/static"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/triggers"
	"github.com/nyaruka/goflow/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/fixtures"
	"github.com/optout-dev/optout/internal/flowtest"
	"github.com/optout-dev/optout/keywords"
)

// keywordCase is a case of testdata/match_keyword.json: a message to a workspace, the flow the host handles keywords
// with, and what MatchKeyword makes of it.
type keywordCase struct {
	Description     string                `json:"description"`
	Config          json.RawMessage       `json:"config,omitempty"`
	ContactLanguage i18n.Language         `json:"contact_language"`
	Text            string                `json:"text"`
	Flow            *assets.FlowReference `json:"flow,omitempty"` // the host's copy of the system flow; SystemFlow() when absent

	Intent   keywords.Intent `json:"intent"`
	Keyword  string          `json:"keyword,omitempty"`
	Language i18n.Language   `json:"language,omitempty"`
	Trigger  json.RawMessage `json:"trigger,omitempty"`
}

// TestMatchKeyword runs the cases in testdata/match_keyword.json. Run with -update to rewrite the expected values from
// what MatchKeyword does, then read the diff.
func TestMatchKeyword(t *testing.T) {
	flowtest.RunCases(t, "testdata/match_keyword.json", func(t *testing.T, tc keywordCase) keywordCase {
		sa := flowtest.SessionAssets(t, tc.Config, nil)
		contact, err := fixtures.Contact(sa, tc.ContactLanguage)
		require.NoError(t, err, tc.Description)
		flow := tc.Flow
		if flow == nil {
			flow = engine.SystemFlow()
		}

		kw, err := engine.MatchKeyword(sa, contact, flowtest.Message(sa, contact, tc.Text), flow)
		require.NoError(t, err, tc.Description)

		actual := tc
		actual.Intent, actual.Keyword, actual.Language = kw.Intent, kw.Keyword, kw.Language
		actual.Trigger = nil
		if kw.Trigger != nil {
			actual.Trigger = jsonx.MustMarshal(kw.Trigger)
		}

		if !test.UpdateSnapshots {
			assert.Equal(t, tc.Intent, actual.Intent, tc.Description)
			assert.Equal(t, tc.Keyword, actual.Keyword, tc.Description)
			assert.Equal(t, tc.Language, actual.Language, tc.Description)
			test.AssertEqualJSON(t, tc.Trigger, actual.Trigger, "trigger mismatch in %s", tc.Description)
		}
		return actual
	})
}

func TestMatchKeywordStartsTheHostsFlow(t *testing.T) {
	sa := flowtest.SessionAssets(t, nil, nil)
	contact, err := fixtures.Contact(sa, "por")
	require.NoError(t, err)

	// mailroom imports flows/optout.json under a UUID of its own, and only runs flows it loaded itself
	imported := assets.NewFlowReference("5b0f2ab8-4bd3-4c0c-93e4-3a8c6ab6f7a1", "Opt-Out")
	kw, err := engine.MatchKeyword(sa, contact, flowtest.Message(sa, contact, "sair"), imported)
	require.NoError(t, err)
	assert.Equal(t, keywords.Match{Intent: keywords.OptOut, Keyword: "sair", Language: "por"}, kw.Match)
	assert.Equal(t, imported, kw.Trigger.Flow())
	assert.Equal(t, triggers.TypeMsg, kw.Trigger.Type())
}

func TestMatchKeywordRefusesWorkspaceWithoutFields(t *testing.T) {
	src, err := static.NewSource([]byte(`{"groups": [{"uuid": "90910b59-8728-5725-82e0-5cc125eae6aa", "name": "Opted Out"}]}`))
	require.NoError(t, err)
	sa, err := engine.NewSessionAssets(flowtest.Env(), src, config.Default)
	require.NoError(t, err)
	contact := flows.NewEmptyContact(sa, "Ana", "por", nil)

	kw, err := engine.MatchKeyword(sa, contact, flowtest.Message(sa, contact, "#voltar"), engine.SystemFlow())
	assert.EqualError(t, err, `workspace has no field "optout_status" and no field "optout_changed_on": import flows/optout.json or create them`)
	assert.Equal(t, keywords.OptIn, kw.Intent, "the match is still said")
	assert.Nil(t, kw.Trigger)

	// an ordinary message is none of the plugin's business, whatever the workspace lacks
	kw, err = engine.MatchKeyword(sa, contact, flowtest.Message(sa, contact, "bom dia"), engine.SystemFlow())
	assert.NoError(t, err)
	assert.Equal(t, keywords.None, kw.Intent)
	assert.Nil(t, kw.Trigger)
}
