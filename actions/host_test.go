package actions_test

import (
	"testing"

	"github.com/nyaruka/goflow/flows"
	goengine "github.com/nyaruka/goflow/flows/engine"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/fixtures"
	exports "github.com/optout-dev/optout/flows"
	"github.com/optout-dev/optout/internal/flowtest"
)

// TestConsentEventOnlyForHostsThatHandleIt runs the plugin's flow on assets whose source says nothing of the consent
// event, as a host that registered the plugin's types but no handler for the event has: the contact is opted out and
// answered through goflow's own events, and the event the host would choke on is not logged.
func TestConsentEventOnlyForHostsThatHandleIt(t *testing.T) {
	data, err := exports.Exports.ReadFile(exports.Plugin)
	require.NoError(t, err)
	exp, err := export.Read(data)
	require.NoError(t, err)
	extra, err := fixtures.Extra(exp)
	require.NoError(t, err)
	src, err := exp.Source(extra)
	require.NoError(t, err)
	sa, err := goengine.NewSessionAssets(flowtest.Env(), src, nil)
	require.NoError(t, err)
	require.False(t, consent.HostHandlesChanged(sa))

	parar := "PARAR"
	setup := flowtest.Setup{ContactLanguage: "por", Input: &parar}
	session, sprint := setup.Start(t, sa, exports.SystemFlowUUID)

	assert.Equal(t, consent.OptedOut, consent.StatusOf(sa, session.Contact()))
	var types []string
	for _, e := range sprint.Events() {
		types = append(types, e.Type())
	}
	assert.Equal(t, []string{
		events.TypeRunStarted, events.TypeRunResultChanged,
		events.TypeContactFieldChanged, events.TypeContactFieldChanged, events.TypeContactGroupsChanged, events.TypeMsgCreated,
		events.TypeRunEnded,
	}, types)
	assert.Equal(t, flows.SessionStatusCompleted, session.Status())

	// the same flow on the plugin's own assets, whose hosts handle it, logs it
	withEvent := flowtest.SessionAssets(t, nil, data)
	require.True(t, consent.HostHandlesChanged(withEvent))
	_, sprint = setup.Start(t, withEvent, exports.SystemFlowUUID)
	var changed int
	for _, e := range sprint.Events() {
		if e.Type() == consent.TypeChanged {
			changed++
		}
	}
	assert.Equal(t, 1, changed)
}
