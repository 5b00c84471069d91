package export_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/buger/jsonparser"
	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/definition"
	"github.com/optout-dev/optout/export"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// realExports holds exports that nobody on this project wrote, with the quirks of real ones.
const realExports = "../../shared/rapidpro-exports"

func readRealExport(t *testing.T, name string) *export.Export {
	data, err := os.ReadFile(filepath.Join(realExports, name))
	require.NoError(t, err)

	e, err := export.Read(data)
	require.NoError(t, err, "error reading %s", name)
	return e
}

func TestReadRealExports(t *testing.T) {
	type flowFacts struct {
		UUID assets.FlowUUID
		Name string
		Type flows.FlowType
	}

	tcs := []struct {
		file      string
		version   string
		site      string
		flows     []flowFacts
		fields    int
		groups    int
		campaigns int
		triggers  int
		missing   []string
	}{
		{
			file:    "background.json",
			version: "13",
			site:    "https://app.rapidpro.io",
			flows:   []flowFacts{{"1ff89517-5735-466b-be31-682b49521cbf", "Background", flows.FlowTypeMessagingBackground}},
		},
		{
			file:    "cataclysm.json",
			version: "13",
			site:    "https://textit.in",
			flows: []flowFacts{
				{"ef9603ff-3886-4e5e-8870-0f643b6098de", "Cataclysmic", flows.FlowTypeMessaging},
				{"d6dd96b1-d500-4c7a-9f9c-eae3f2a2a7c5", "Catastrophe", flows.FlowTypeMessaging},
			},
			fields:  2,
			groups:  5,
			missing: []string{`warn: channel "Telegram: TextItBot" bd55bb31-8ed4-4f89-b903-7103aa3762be`},
		},
		{
			file:    "color_v13.json",
			version: "13.0.0",
			flows:   []flowFacts{{"ca45c8dd-d882-4f56-8522-1cdda67fd5b5", "Colors", flows.FlowTypeMessaging}},
		},
		{
			file:    "dependencies_v13.json",
			version: "13",
			site:    "https://app.rapidpro.io",
			flows: []flowFacts{
				{"f310f98f-abd7-42ce-92d5-fca1cb100e7a", "Child Flow", flows.FlowTypeMessaging},
				{"89894985-f68d-4a1b-b49e-4ea6dfc5e76a", "Dependencies", flows.FlowTypeMessaging},
			},
			fields: 22,
			groups: 4,
			missing: []string{
				`warn: channel "RapidPro Test" d53efbea-379f-4634-95fd-d9879b28220d`,
				`warn: global org_name`,
				`warn: topic "Support" 4d7a8306-acab-41e8-957b-cba523e60fa5`,
			},
		},
		{
			file:    "favorites_v13.json",
			version: "13",
			flows:   []flowFacts{{"aef60b1e-14ab-4095-81ee-fce02b3e320d", "Favorites", flows.FlowTypeMessaging}},
		},
		{
			file:    "group_split_no_name.json",
			version: "13",
			site:    "https://app.rapidpro.io",
			flows:   []flowFacts{{"74e9b272-5b32-4810-953b-20e0df385e56", "Has Group Without Name", flows.FlowTypeMessaging}},
			groups:  1,
		},
		{
			file:    "parent_child_expiration.json",
			version: "11.11",
			site:    "https://textit.in",
			flows: []flowFacts{
				{"2cdcd8d9-a210-4269-a0cd-f4a07cc4f68a", "parent", flows.FlowTypeMessaging},
				{"c4dd3c3a-1c7c-4bb8-a8c4-11aaec1a4fea", "child", flows.FlowTypeMessaging},
			},
			triggers: 1,
		},
		{
			file:     "rating_10.json",
			version:  "13",
			site:     "https://textit.in",
			flows:    []flowFacts{{"d6a23704-c558-40c0-b850-5102cf69896c", "Rate us", flows.FlowTypeMessaging}},
			triggers: 1,
		},
		{
			file:    "send_only_v13.json",
			version: "13",
			flows:   []flowFacts{{"1a737778-2cef-4e2f-830e-33a9d3921741", "Send Only", flows.FlowTypeMessaging}},
		},
		{
			file:      "survey_campaign.json",
			version:   "11.4",
			site:      "https://app.rapidpro.io",
			flows:     []flowFacts{{"6d8250f9-3781-40f5-b76c-35fe2a2c9712", "Survey One", flows.FlowTypeMessaging}},
			fields:    1, // the field its campaign event is relative to, which it doesn't declare
			groups:    1, // the group of its campaign, which it doesn't declare
			campaigns: 1,
		},
		{
			file:    "whatsapp_template.json",
			version: "13",
			flows:   []flowFacts{{"c07d368e-fe1d-469d-b267-bca02d17c3e3", "Template Flow", flows.FlowTypeMessaging}},
			missing: []string{`warn: template "affirmation" f712e05c-bbed-40f1-b3d9-671bb9b60775`},
		},
		{
			file:    "with_message_topic.json",
			version: "13",
			flows:   []flowFacts{{"c07d368e-fe1d-469d-b267-bca02d17c3e3", "Topic Flow", flows.FlowTypeMessaging}},
		},
	}

	// a new export in the directory needs facts here
	paths, err := filepath.Glob(filepath.Join(realExports, "*.json"))
	require.NoError(t, err)
	files := make([]string, len(paths))
	for i, path := range paths {
		files[i] = filepath.Base(path)
	}
	tested := make([]string, len(tcs))
	for i, tc := range tcs {
		tested[i] = tc.file
	}
	assert.ElementsMatch(t, files, tested)

	for _, tc := range tcs {
		e := readRealExport(t, tc.file)

		assert.Equal(t, tc.version, e.Version, "%s: version mismatch", tc.file)
		assert.Equal(t, tc.site, e.Site, "%s: site mismatch", tc.file)
		assert.Len(t, e.Fields, tc.fields, "%s: fields mismatch", tc.file)
		assert.Len(t, e.Groups, tc.groups, "%s: groups mismatch", tc.file)
		assert.Len(t, e.Campaigns, tc.campaigns, "%s: campaigns mismatch", tc.file)
		assert.Len(t, e.Triggers, tc.triggers, "%s: triggers mismatch", tc.file)

		if assert.Len(t, e.Flows, len(tc.flows), "%s: flows mismatch", tc.file) {
			for i, expected := range tc.flows {
				flow := e.Flows[i]
				assert.Equal(t, expected, flowFacts{flow.UUID, flow.Name, flow.Type}, "%s: flow %d mismatch", tc.file, i)

				specVersion, _ := jsonparser.GetString(flow.Definition, "spec_version")
				assert.Equal(t, definition.CurrentSpecVersion.String(), specVersion, "%s: flow %d not migrated", tc.file, i)
			}
		}

		deps, err := e.Dependencies(nil)
		require.NoError(t, err)
		var described []string
		for _, d := range deps {
			described = append(described, fmt.Sprintf("%s: %s", d.Effect, d))
		}
		assert.Equal(t, tc.missing, described, "%s: dependencies mismatch", tc.file)

		// what Read gives back must be an export that Read reads the same way again
		marshaled, err := jsonx.Marshal(e)
		require.NoError(t, err)
		reread, err := export.Read(marshaled)
		require.NoError(t, err, "%s: error re-reading", tc.file)
		reread.Version = e.Version
		assert.Equal(t, e, reread, "%s: re-read mismatch", tc.file)
	}
}

func TestReadRealKeywordTrigger(t *testing.T) {
	e := readRealExport(t, "rating_10.json")

	assert.Equal(t, []*export.Trigger{{
		Type:          export.TriggerTypeKeyword,
		Flow:          assets.NewFlowReference("d6a23704-c558-40c0-b850-5102cf69896c", "Rate us"),
		Keywords:      []string{"rating"},
		MatchType:     export.MatchFirstWord,
		Groups:        []*assets.GroupReference{},
		ExcludeGroups: []*assets.GroupReference{},
	}}, e.Triggers)
}

func TestReadRealLegacyCampaign(t *testing.T) {
	e := readRealExport(t, "survey_campaign.json")

	assert.Equal(t, []*export.Campaign{{
		UUID:  "17da8fee-8c29-4b12-a3f5-f2be042d00a5",
		Name:  "Survey Campaign",
		Group: assets.NewGroupReference("1019499d-fcee-4910-b05c-ca18ccdcbadb", "Survey Group"),
		Events: []*export.CampaignEvent{{
			UUID:         "bc7b249c-f5f4-4b9f-9193-f4ef007b0d77",
			Type:         export.EventTypeFlow,
			Offset:       15,
			Unit:         export.OffsetDay,
			RelativeTo:   assets.NewFieldReference("survey_start", "Survey Start"),
			DeliveryHour: 12,
			StartMode:    export.StartModeInterrupt,
			Flow:         assets.NewFlowReference("6d8250f9-3781-40f5-b76c-35fe2a2c9712", "Survey One"),
		}},
	}}, e.Campaigns)

	// the export predates exports declaring fields and groups, so they come from what the campaign says of them
	assert.Equal(t, []*export.Field{{Key: "survey_start", Name: "Survey Start", Type: assets.FieldTypeDatetime}}, e.Fields)
	assert.Equal(t, []*export.Group{{UUID: "1019499d-fcee-4910-b05c-ca18ccdcbadb", Name: "Survey Group"}}, e.Groups)

	// its legacy flow had base as its language, which isn't one
	language, _ := jsonparser.GetString(e.Flows[0].Definition, "language")
	assert.Equal(t, "und", language)
}

func TestReadRealLegacyFlows(t *testing.T) {
	e := readRealExport(t, "parent_child_expiration.json")
	parent, child := e.Flows[0], e.Flows[1]

	// the parent's subflow ruleset is now an action that enters the child
	flow, err := definition.ReadFlow(parent.Definition, nil)
	require.NoError(t, err)
	dependencies := flow.Inspect(nil).Dependencies
	require.Len(t, dependencies, 1)
	assert.Equal(t, assets.NewFlowReference(child.UUID, "child"), dependencies[0].Reference())

	// the child's expiry was in its legacy metadata
	expiry, _ := jsonparser.GetInt(child.Definition, "expire_after_minutes")
	assert.Equal(t, int64(5), expiry)

	assert.Equal(t, []string{"parent"}, e.Triggers[0].Keywords)
	assert.Equal(t, parent.UUID, e.Triggers[0].Flow.UUID)
}

func TestReadSingleFlow(t *testing.T) {
	for _, file := range []string{"favorites_v13.json", "survey_campaign.json"} {
		data, err := os.ReadFile(filepath.Join(realExports, file))
		require.NoError(t, err)
		definition, _, _, err := jsonparser.Get(data, "flows", "[0]")
		require.NoError(t, err)

		fromExport := readRealExport(t, file).Flows[0]

		e, err := export.Read(definition)
		require.NoError(t, err, "%s: error reading its flow", file)

		assert.Equal(t, "", e.Version)
		assert.Equal(t, []*export.Field{}, e.Fields)
		if assert.Len(t, e.Flows, 1) {
			assert.Equal(t, fromExport.UUID, e.Flows[0].UUID)
			assert.Equal(t, fromExport.Name, e.Flows[0].Name)
		}
	}
}
