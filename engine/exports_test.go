package engine_test

import (
	"io/fs"
	"testing"

	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/export"
	exports "github.com/optout-dev/optout/flows"
	"github.com/optout-dev/optout/internal/flowtest"
)

// TestExportsValidate reads every export in flows/ with the plugin registered: goflow validates each flow, and every
// dependency is in the export, so it imports into a new project as it is.
func TestExportsValidate(t *testing.T) {
	names, err := fs.Glob(exports.Exports, "*.json")
	require.NoError(t, err)
	assert.Equal(t, []string{exports.Plugin, exports.Portable}, names)

	for _, name := range names {
		data, err := exports.Exports.ReadFile(name)
		require.NoError(t, err)
		exp, err := export.Read(data)
		require.NoError(t, err, name)
		require.Len(t, exp.Flows, 1, name)

		deps, err := exp.Dependencies(nil)
		require.NoError(t, err)
		var missing []string
		for _, d := range deps {
			missing = append(missing, d.String())
		}
		if name == exports.Portable {
			// the two globals a platform's admin sets to record changes in optout serve, or leaves out
			assert.Equal(t, []string{"global optout_url", "global optout_token"}, missing, name)
		} else {
			assert.Empty(t, missing, name)
		}
	}
}

// TestPluginExportAsAFlow runs the plugin export as a designer's flow would run it, started by the contact's message.
func TestPluginExportAsAFlow(t *testing.T) {
	data, err := exports.Exports.ReadFile(exports.Plugin)
	require.NoError(t, err)
	sa := flowtest.SessionAssets(t, nil, data)

	parar, voltar := "PARAR", "#voltar"
	out := flowtest.Setup{ContactLanguage: "por", Input: &parar}
	session, sprint := out.Start(t, sa, exports.SystemFlowUUID)
	contact := session.Contact()

	assert.Equal(t, flows.SessionStatusCompleted, session.Status())
	assert.Equal(t, consent.OptedOut, consent.StatusOf(sa, contact))
	assert.NotNil(t, contact.Groups().FindByUUID(optedOutGroup(sa).UUID()))
	assert.Equal(t, []string{"Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!"}, replies(sprint))

	// the same contact comes back
	contactJSON, err := contact.MarshalJSON()
	require.NoError(t, err)
	in := flowtest.Setup{Contact: contactJSON, Input: &voltar}
	session, sprint = in.Start(t, sa, exports.SystemFlowUUID)

	assert.Equal(t, consent.OptedIn, consent.StatusOf(sa, session.Contact()))
	assert.Nil(t, session.Contact().Groups().FindByUUID(optedOutGroup(sa).UUID()))
	assert.Equal(t, []string{"Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!"}, replies(sprint))
}

func replies(sprint flows.Sprint) []string {
	var texts []string
	for _, e := range eventsOf[*events.MsgCreated](sprint.Events()) {
		texts = append(texts, e.Msg.Text())
	}
	return texts
}
