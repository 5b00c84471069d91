package export_test

import (
	"os"
	"testing"

	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/assets/static"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/export"
)

var (
	registration = assets.NewFlowReference("46151ba4-13ad-4017-b1c3-4fb3166f0588", "Registration")
	reminder     = assets.NewFlowReference("0a201f21-bf86-419f-b1f9-145ec524f926", "Reminder")
)

func readDependenciesExport(t *testing.T) *export.Export {
	data, err := os.ReadFile("testdata/dependencies.json")
	require.NoError(t, err)
	e, err := export.Read(data)
	require.NoError(t, err)
	return e
}

func sessionAssets(t *testing.T, source string) flows.SessionAssets {
	src, err := static.NewSource([]byte(source))
	require.NoError(t, err)
	sa, err := engine.NewSessionAssets(envs.NewBuilder().Build(), src, nil)
	require.NoError(t, err)
	return sa
}

func TestDependencies(t *testing.T) {
	e := readDependenciesExport(t)

	// with no workspace, everything its flows use that it doesn't declare, each once, in the order flows first use it
	deps, err := e.Dependencies(nil)
	require.NoError(t, err)
	assert.Equal(t, []*export.Dependency{
		{Type: "group", Identity: "a18fff36-b1f9-483b-854e-72794904cc80", Name: "Customers", Flows: []*assets.FlowReference{registration, reminder}, Effect: export.EffectCreate},
		{Type: "field", Identity: "age", Name: "Age", Flows: []*assets.FlowReference{registration}, Effect: export.EffectCreate},
		{Type: "channel", Identity: "8ca1afbe-26d4-40ca-9fb4-cee2fde33869", Name: "Android", Flows: []*assets.FlowReference{registration}, Effect: export.EffectWarn},
		{Type: "label", Identity: "c3495890-7e0f-4b2f-a0fb-4f79abcbe264", Name: "Interesting", Flows: []*assets.FlowReference{registration}, Effect: export.EffectWarn},
		{Type: "field", Identity: "nickname", Name: "", Flows: []*assets.FlowReference{registration}, Effect: export.EffectCreate},
		{Type: "group", Identity: "bcc696e9-dfb7-48ee-8c63-e1518ac1037a", Name: "", Flows: []*assets.FlowReference{registration}, Effect: export.EffectRefuse, Problem: "it has no name to create it with"},
		{Type: "flow", Identity: "7a4ef740-6c63-4adf-bd6f-218f529525ae", Name: "Child", Flows: []*assets.FlowReference{registration}, Effect: export.EffectRefuse},
		{Type: "field", Identity: "created_on", Name: "", Flows: []*assets.FlowReference{reminder}, Effect: export.EffectRefuse, Problem: "key 'created_on' is reserved"},
		{Type: "global", Identity: "org_name", Name: "", Flows: []*assets.FlowReference{reminder}, Effect: export.EffectWarn},
	}, deps)

	assert.Equal(t, `group "Customers" a18fff36-b1f9-483b-854e-72794904cc80`, deps[0].String())
	assert.Equal(t, `field "Age" age`, deps[1].String())
	assert.Equal(t, `field nickname`, deps[4].String())

	// what the workspace has isn't missing, found as goflow finds it when the flows run: by UUID, or by key for fields
	workspace := sessionAssets(t, `{
		"flows": [{"uuid": "7a4ef740-6c63-4adf-bd6f-218f529525ae", "name": "Child", "spec_version": "13.0.0", "language": "eng", "type": "messaging", "nodes": []}],
		"groups": [{"uuid": "a18fff36-b1f9-483b-854e-72794904cc80", "name": "Customers"}],
		"fields": [{"key": "nickname", "name": "Nickname", "type": "text"}],
		"channels": [{"uuid": "8ca1afbe-26d4-40ca-9fb4-cee2fde33869", "name": "Android", "address": "+250788123123", "schemes": ["tel"], "roles": ["send", "receive"]}]
	}`)
	deps, err = e.Dependencies(workspace)
	require.NoError(t, err)
	identities := make([]string, len(deps))
	for i, d := range deps {
		identities[i] = d.Identity
	}
	assert.Equal(t, []string{"age", "c3495890-7e0f-4b2f-a0fb-4f79abcbe264", "bcc696e9-dfb7-48ee-8c63-e1518ac1037a", "created_on", "org_name"}, identities)
}

func TestAddDependencies(t *testing.T) {
	e := readDependenciesExport(t)
	deps, err := e.Dependencies(nil)
	require.NoError(t, err)

	e.AddDependencies(deps)

	// as RapidPro creates them: fields as text, named after their keys if no flow names them, and groups without queries
	assert.Equal(t, []*export.Field{
		{Key: "age", Name: "Age", Type: assets.FieldTypeText},
		{Key: "nickname", Name: "Nickname", Type: assets.FieldTypeText},
	}, e.Fields)
	assert.Equal(t, []*export.Group{
		{UUID: "1167b301-5f81-4c3d-859e-b8d3eba0f181", Name: "Declared"},
		{UUID: "a18fff36-b1f9-483b-854e-72794904cc80", Name: "Customers"},
	}, e.Groups)

	// and then the export has them itself, leaving what import doesn't create
	deps, err = e.Dependencies(nil)
	require.NoError(t, err)
	effects := make(map[export.Effect]int)
	for _, d := range deps {
		effects[d.Effect]++
	}
	assert.Equal(t, map[export.Effect]int{export.EffectWarn: 3, export.EffectRefuse: 3}, effects)
}
