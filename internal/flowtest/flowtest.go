// Package flowtest runs flows for the plugin's JSON-driven tests: a test case names a workspace configuration, a
// contact and a message, and gets the session and the events goflow produced, with the fixture assets and the plugin
// registered.
package flowtest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/triggers"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/fixtures"
)

// ChannelUUID is the fixture WhatsApp channel that messages arrive on.
const ChannelUUID = assets.ChannelUUID("4e8b1c1e-2b8a-4d1c-9d6e-0a2f3b4c5d6e")

// Setup is the part of a test case that says who sends what to which workspace.
type Setup struct {
	Config          json.RawMessage `json:"config,omitempty"`           // the workspace configuration, defaults when absent
	ContactLanguage i18n.Language   `json:"contact_language,omitempty"` // picks a fixture contact
	Contact         json.RawMessage `json:"contact,omitempty"`          // or gives the contact whole
	Input           *string         `json:"input,omitempty"`            // the message, or none for a manual start
}

// Env is the environment tests run in: a Brazilian workspace speaking the three languages of the defaults.
func Env() envs.Environment {
	return envs.NewBuilder().WithAllowedLanguages("por", "spa", "eng").WithDefaultCountry("BR").Build()
}

// SessionAssets builds the session assets of a workspace that imported the export or flow definition in data (none
// when nil), with the fixture assets it lacks and the configuration (the defaults when nil).
func SessionAssets(t testing.TB, cfgJSON, data json.RawMessage) flows.SessionAssets {
	cfg := config.Default
	if cfgJSON != nil {
		var err error
		cfg, err = config.Parse(cfgJSON)
		require.NoError(t, err)
	}

	exp := &export.Export{}
	if data != nil {
		var err error
		exp, err = export.Read(data)
		require.NoError(t, err)
	}
	extra, err := fixtures.Extra(exp)
	require.NoError(t, err)
	src, err := exp.Source(extra)
	require.NoError(t, err)

	sa, err := engine.NewSessionAssets(Env(), src, cfg)
	require.NoError(t, err)
	return sa
}

// contact reads the contact of the setup.
func (s *Setup) contact(t *testing.T, sa flows.SessionAssets) *flows.Contact {
	if s.Contact != nil {
		contact, err := flows.ReadContact(sa, s.Contact, assets.PanicOnMissing)
		require.NoError(t, err)
		return contact
	}
	lang := s.ContactLanguage
	if lang == "" {
		lang = "por"
	}
	contact, err := fixtures.Contact(sa, lang)
	require.NoError(t, err)
	return contact
}

// Message returns an incoming WhatsApp message from the contact on the fixture channel.
func Message(sa flows.SessionAssets, contact *flows.Contact, text string) *events.MsgReceived {
	channel := sa.Channels().Get(ChannelUUID).Reference()
	urn := urns.NilURN
	if len(contact.URNs()) > 0 {
		urn = contact.URNs()[0].Identity()
	}
	return events.NewMsgReceived(flows.NewMsgIn(urn, channel, text, nil, ""), "")
}

// Start starts the flow for the setup's contact, triggered by its message or manually when there is none.
func (s *Setup) Start(t *testing.T, sa flows.SessionAssets, flowUUID assets.FlowUUID) (flows.Session, flows.Sprint) {
	flow, err := sa.Flows().Get(flowUUID)
	require.NoError(t, err)

	contact := s.contact(t, sa)
	tb := triggers.NewBuilder(flow.Reference(false))
	var trigger flows.Trigger
	if s.Input != nil {
		trigger = tb.MsgReceived(Message(sa, contact, *s.Input)).Build()
	} else {
		trigger = tb.Manual().Build()
	}

	session, sprint, err := engine.NewBuilder().Build().NewSession(context.Background(), sa, Env(), contact, trigger, nil)
	require.NoError(t, err)
	return session, sprint
}
