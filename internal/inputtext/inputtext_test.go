package inputtext_test

import (
	"context"
	"testing"

	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/excellent/types"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/resumes"
	"github.com/nyaruka/goflow/flows/triggers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/fixtures"
	"github.com/optout-dev/optout/internal/flowtest"
	"github.com/optout-dev/optout/internal/inputtext"
)

// waitingFlow waits for a message, then for another.
var waitingFlow = []byte(`{"version": "13", "flows": [{
	"uuid": "7a1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "name": "Waiting", "spec_version": "13.0.0", "language": "por",
	"type": "messaging", "revision": 1, "expire_after_minutes": 60, "localization": {},
	"nodes": [
		{"uuid": "8b2d3e4f-5a6b-4c7d-9e8f-0a1b2c3d4e5f", "actions": [], "router": {"type": "switch", "wait": {"type": "msg"},
			"operand": "@input.text", "cases": [], "categories": [{"uuid": "9c3e4f5a-6b7c-4d8e-8f9a-1b2c3d4e5f6a", "name": "All",
			"exit_uuid": "ad4f5a6b-7c8d-4e9f-9a0b-2c3d4e5f6a7b"}], "default_category_uuid": "9c3e4f5a-6b7c-4d8e-8f9a-1b2c3d4e5f6a"},
			"exits": [{"uuid": "ad4f5a6b-7c8d-4e9f-9a0b-2c3d4e5f6a7b", "destination_uuid": "be5a6b7c-8d9e-4f0a-8b1c-3d4e5f6a7b8c"}]},
		{"uuid": "be5a6b7c-8d9e-4f0a-8b1c-3d4e5f6a7b8c", "actions": [], "router": {"type": "switch", "wait": {"type": "msg"},
			"operand": "@input.text", "cases": [], "categories": [{"uuid": "cf6b7c8d-9e0f-4a1b-9c2d-4e5f6a7b8c9d", "name": "All",
			"exit_uuid": "d07c8d9e-0f1a-4b2c-8d3e-5f6a7b8c9d0e"}], "default_category_uuid": "cf6b7c8d-9e0f-4a1b-9c2d-4e5f6a7b8c9d"},
			"exits": [{"uuid": "d07c8d9e-0f1a-4b2c-8d3e-5f6a7b8c9d0e"}]}
	]
}]}`)

func TestOf(t *testing.T) {
	ctx := context.Background()
	sa := flowtest.SessionAssets(t, nil, waitingFlow)
	contact, err := fixtures.Contact(sa, "por")
	require.NoError(t, err)
	flow := assets.NewFlowReference("7a1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "Waiting")
	eng := engine.NewBuilder().Build()

	// what @input.text evaluates to, the long way
	evaluated := func(s flows.Session) string {
		return s.Input().Context(s.MergedEnvironment())["text"].(*types.XText).Native()
	}

	// a manual start has no input, until a message resumes it
	session, _, err := eng.NewSession(ctx, sa, flowtest.Env(), contact, triggers.NewBuilder(flow).Manual().Build(), nil)
	require.NoError(t, err)
	_, ok := inputtext.Of(session)
	assert.False(t, ok)

	_, err = session.Resume(ctx, resumes.NewMsg(flowtest.Message(sa, contact, "Olá")))
	require.NoError(t, err)
	text, ok := inputtext.Of(session)
	assert.True(t, ok)
	assert.Equal(t, "Olá", text)
	assert.Equal(t, evaluated(session), text)

	// a message start has the message as input, and then the message that resumes it
	session, _, err = eng.NewSession(ctx, sa, flowtest.Env(), contact, triggers.NewBuilder(flow).MsgReceived(flowtest.Message(sa, contact, "PARAR")).Build(), nil)
	require.NoError(t, err)
	text, ok = inputtext.Of(session)
	assert.True(t, ok)
	assert.Equal(t, "PARAR", text)
	assert.Equal(t, evaluated(session), text)

	_, err = session.Resume(ctx, resumes.NewMsg(flowtest.Message(sa, contact, "#voltar")))
	require.NoError(t, err)
	text, ok = inputtext.Of(session)
	assert.True(t, ok)
	assert.Equal(t, "#voltar", text)
	assert.Equal(t, evaluated(session), text)
}
