package export_test

import (
	"testing"

	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/assets/static"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/export"
)

// An export's groups named as the workspace's are the workspace's: dropped from the export, and their UUIDs replaced
// wherever the export uses them.
func TestMatchGroups(t *testing.T) {
	exp, err := export.Read([]byte(`{"version": "13",
		"flows": [{"uuid": "46151ba4-13ad-4017-b1c3-4fb3166f0588", "name": "Join", "spec_version": "13.0.0", "language": "eng", "type": "messaging",
			"nodes": [{"uuid": "7aa75346-2180-4d16-abc2-8591e08b626a", "actions": [
				{"uuid": "51971fc9-a6c7-47a0-82e7-c2d67dcd77fb", "type": "add_contact_groups", "groups": [
					{"uuid": "a18fff36-b1f9-483b-854e-72794904cc80", "name": "Customers"},
					{"uuid": "1167b301-5f81-4c3d-859e-b8d3eba0f181", "name": "Prospects"}]}],
			"exits": [{"uuid": "6b565898-12c3-4eaf-b2bd-ab92c01cbb1d"}]}]}],
		"groups": [{"uuid": "a18fff36-b1f9-483b-854e-72794904cc80", "name": "customers"}, {"uuid": "1167b301-5f81-4c3d-859e-b8d3eba0f181", "name": "Prospects"}],
		"triggers": [{"trigger_type": "K", "keywords": ["join"], "flow": {"uuid": "46151ba4-13ad-4017-b1c3-4fb3166f0588", "name": "Join"},
			"groups": [{"uuid": "a18fff36-b1f9-483b-854e-72794904cc80", "name": "customers"}]}]}`))
	require.NoError(t, err)

	src, err := static.NewSource([]byte(`{"groups": [{"uuid": "0b5f5a52-8b8b-4a7a-9a3d-3c1e0d8a9f10", "name": "Customers"}]}`))
	require.NoError(t, err)
	sa, err := engine.NewSessionAssets(envs.NewBuilder().Build(), src, nil)
	require.NoError(t, err)

	remap := exp.MatchGroups(sa.Groups().All())
	assert.Equal(t, map[assets.GroupUUID]assets.GroupUUID{"a18fff36-b1f9-483b-854e-72794904cc80": "0b5f5a52-8b8b-4a7a-9a3d-3c1e0d8a9f10"}, remap)
	require.Len(t, exp.Groups, 1)
	assert.Equal(t, "Prospects", exp.Groups[0].Name, "a group the workspace hasn't stays")
	assert.Contains(t, string(exp.Flows[0].Definition), "0b5f5a52-8b8b-4a7a-9a3d-3c1e0d8a9f10")
	assert.NotContains(t, string(exp.Flows[0].Definition), "a18fff36-b1f9-483b-854e-72794904cc80")
	assert.Equal(t, assets.GroupUUID("0b5f5a52-8b8b-4a7a-9a3d-3c1e0d8a9f10"), exp.Triggers[0].Groups[0].UUID)
}
