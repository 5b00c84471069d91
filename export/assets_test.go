package export_test

import (
	"testing"

	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/engine"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSource(t *testing.T) {
	e := readRealExport(t, "cataclysm.json")

	source, err := e.Source([]byte(`{
		"channels": [{"uuid": "bd55bb31-8ed4-4f89-b903-7103aa3762be", "name": "Telegram: TextItBot", "address": "TextItBot", "schemes": ["telegram"], "roles": ["send", "receive"]}],
		"groups": [{"uuid": "5e9d8fab-5e7e-4f51-b533-261af5dea70d", "name": "Testers"}]
	}`))
	require.NoError(t, err)

	flow, err := source.FlowByUUID("d6dd96b1-d500-4c7a-9f9c-eae3f2a2a7c5")
	require.NoError(t, err)
	assert.Equal(t, "Catastrophe", flow.Name())

	channels, _ := source.Channels()
	fields, _ := source.Fields()
	groups, _ := source.Groups()
	assert.Len(t, channels, 1)
	assert.Len(t, fields, 2)
	if assert.Len(t, groups, 6) {
		assert.Equal(t, "Cat Blasts", groups[2].Name())
		assert.Equal(t, "facts_per_day = 1", groups[2].Query())
		assert.Equal(t, "Testers", groups[5].Name()) // extra assets come after the export's
	}

	sa, err := engine.NewSessionAssets(envs.NewBuilder().Build(), source, nil)
	require.NoError(t, err)
	assert.Equal(t, "Really Likes Cats", sa.Fields().Get("likes_cats").Name())

	// with the channel that exports never carry, nothing is missing
	deps, err := e.Dependencies(sa)
	require.NoError(t, err)
	assert.Len(t, deps, 0)

	_, err = e.Source([]byte(`{"channels": {}}`))
	assert.EqualError(t, err, "unable to read extra assets: json: cannot unmarshal object into Go value of type []json.RawMessage")

	_, err = e.Source([]byte(`{"channels": [{"name": "No UUID", "schemes": ["tel"], "roles": ["send"]}]}`))
	assert.EqualError(t, err, "unable to read assets: field 'uuid' is required")
}

func TestSourceRunsFlows(t *testing.T) {
	e := readRealExport(t, "rating_10.json")

	source, err := e.Source(nil)
	require.NoError(t, err)
	sa, err := engine.NewSessionAssets(envs.NewBuilder().Build(), source, nil)
	require.NoError(t, err)

	trigger := e.Triggers[0]
	_, session, sprint, err := test.NewSessionBuilder().WithAssets(sa).WithFlow(trigger.Flow.UUID).WithTriggerMsg(trigger.Keywords[0]).Build()
	require.NoError(t, err)

	assert.Equal(t, flows.SessionStatusWaiting, session.Status())

	var sent []string
	for _, event := range sprint.Events() {
		if created, isMsg := event.(*events.MsgCreated); isMsg {
			sent = append(sent, created.Msg.Text())
		}
	}
	assert.Equal(t, []string{"How do you rate the experience? Answer with a number below 10"}, sent)
}
