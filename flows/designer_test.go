package flows_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/envs"
	goflows "github.com/nyaruka/goflow/flows"
	goengine "github.com/nyaruka/goflow/flows/engine"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/resumes"
	"github.com/nyaruka/goflow/flows/triggers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/fixtures"
	"github.com/optout-dev/optout/flows"
)

// TestEnterThePortableFlow is the README's workflow for a designer on a platform without the plugin: a flow of theirs
// (testdata/enter_portable.json, its nodes as RapidPro's editor writes Send Message, Enter a Flow and Split by
// Expression) asks its question, enters the portable flow in place of a Wait for Response, branches on the child's
// result and carries on with the contact's answer.
func TestEnterThePortableFlow(t *testing.T) {
	sa := designerAssets(t)
	env := envs.NewBuilder().WithAllowedLanguages("por", "spa", "eng").WithDefaultCountry("BR").Build()
	offers := assets.NewFlowReference("5d1e6c2a-3b4f-4e8a-9c7d-2f1a0b9e8d71", "Offers")

	tests := []struct {
		answer  string
		status  string // optout_status afterwards
		reply   string
		consent string // the category of the designer's split on @child.results.opt_out.category
		offers  string // the category of the designer's split on @input.text, reached from Other only
	}{
		{"PARAR", "opted_out", "Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!", "Opted Out", ""},
		{"#voltar", "opted_in", "Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!", "Opted In", ""},
		{"sim, quero", "", "", "Other", "Yes"},
		{"talvez", "", "", "Other", "Other"},
	}
	for _, tc := range tests {
		contact, err := fixtures.Contact(sa, "por")
		require.NoError(t, err)
		session, sprint, err := goengine.NewBuilder().Build().NewSession(context.Background(), sa, env, contact, triggers.NewBuilder(offers).Manual().Build(), nil)
		require.NoError(t, err)
		require.Equal(t, goflows.SessionStatusWaiting, session.Status(), "the portable flow waits for the answer")
		assert.Equal(t, "Quer receber nossas ofertas? Responda SIM, ou PARAR para sair.", replyText(sprint))

		msg := events.NewMsgReceived(goflows.NewMsgIn(contact.URNs()[0].Identity(), nil, tc.answer, nil, ""), "")
		sprint, err = session.Resume(context.Background(), resumes.NewMsg(msg))
		require.NoError(t, err)

		assert.Equal(t, goflows.SessionStatusCompleted, session.Status(), tc.answer)
		assert.Equal(t, tc.status, fieldText(sa, contact, "optout_status"), tc.answer)
		assert.Equal(t, tc.reply, replyText(sprint), tc.answer)
		parent := session.Runs()[0]
		require.Equal(t, offers.UUID, parent.FlowReference().UUID)
		assert.Equal(t, tc.consent, parent.Results().Get("consent").Category, tc.answer)
		if tc.offers == "" {
			assert.Nil(t, parent.Results().Get("offers"), tc.answer)
		} else {
			assert.Equal(t, tc.offers, parent.Results().Get("offers").Category, tc.answer)
		}
	}
}

// designerAssets are the assets of a workspace that imported the portable export and has the designer's flow.
func designerAssets(t *testing.T) goflows.SessionAssets {
	data, err := flows.Exports.ReadFile(flows.Portable)
	require.NoError(t, err)
	designer, err := os.ReadFile("testdata/enter_portable.json")
	require.NoError(t, err)

	var doc map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &doc))
	var defs []json.RawMessage
	require.NoError(t, json.Unmarshal(doc["flows"], &defs))
	doc["flows"], err = json.Marshal(append(defs, designer))
	require.NoError(t, err)
	data, err = json.Marshal(doc)
	require.NoError(t, err)

	exp, err := export.Read(data)
	require.NoError(t, err)
	extra, err := fixtures.Extra(exp)
	require.NoError(t, err)
	src, err := exp.Source(extra)
	require.NoError(t, err)
	sa, err := goengine.NewSessionAssets(envs.NewBuilder().Build(), src, nil)
	require.NoError(t, err)
	return sa
}
