package flows_test

import (
	"context"
	"testing"

	"github.com/nyaruka/gocommon/i18n"
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

// This test binary imports neither the plugin's actions and routers nor the engine that registers them, so goflow
// reads flows here with its stock types only, as a platform without the plugin would.

func TestPluginExportNeedsThePlugin(t *testing.T) {
	data, err := flows.Exports.ReadFile(flows.Plugin)
	require.NoError(t, err)

	_, err = export.Read(data)
	assert.ErrorContains(t, err, "unknown type: 'optout'", "stock goflow doesn't know the plugin's router")
}

func TestPortableExportWithStockGoflow(t *testing.T) {
	sa := portableAssets(t)
	env := envs.NewBuilder().WithAllowedLanguages("por", "spa", "eng").WithDefaultCountry("BR").Build()

	tests := []struct {
		lang      i18n.Language
		text      string
		status    string // the status field afterwards
		inGroup   bool
		reply     string
		changedOn bool // whether the changed-on field was set
	}{
		{"por", "PARAR", "opted_out", true, "Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!", true},
		{"por", "¡Salir!", "opted_out", true, "Tu solicitud de abandonar la conversación se cumplió. ¡Envíe #volver para regresar!", true},
		{"eng", "  stop. ", "opted_out", true, "Your request to leave the conversation has been fulfilled. Please send #start to come back!", true},
		{"spa", "#OPTOUT", "opted_out", true, "Tu solicitud de abandonar la conversación se cumplió. ¡Envíe #volver para regresar!", true},
		{"eng", "#optout", "opted_out", true, "Your request to leave the conversation has been fulfilled. Please send #start to come back!", true},
		{"por", "#voltar", "opted_in", false, "Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!", true},
		{"por", "quero parar de receber", "", false, "", false},
		{"por", "voltar", "", false, "", false},
	}
	for _, tc := range tests {
		contact, err := fixtures.Contact(sa, tc.lang)
		require.NoError(t, err)

		_, sprint := start(t, sa, env, contact, tc.text)

		assert.Equal(t, tc.status, fieldText(sa, contact, "optout_status"), tc.text)
		assert.Equal(t, tc.changedOn, fieldText(sa, contact, "optout_changed_on") != "", tc.text)
		assert.Equal(t, tc.inGroup, contact.Groups().FindByUUID(optedOutGroup(sa).UUID()) != nil, tc.text)
		assert.Equal(t, tc.reply, replyText(sprint), tc.text)
		// Weni's mailroom refuses MARKETING templates to a contact whose marketing_opt_in is false
		assert.Equal(t, map[string]string{"opted_out": "false", "opted_in": "true"}[tc.status], fieldText(sa, contact, "marketing_opt_in"), tc.text)
	}
}

func TestPortableExportRoundTrip(t *testing.T) {
	sa := portableAssets(t)
	env := envs.NewBuilder().WithAllowedLanguages("por", "spa", "eng").WithDefaultCountry("BR").Build()
	contact, err := fixtures.Contact(sa, "por")
	require.NoError(t, err)

	start(t, sa, env, contact, "PARAR")
	changedOn := fieldText(sa, contact, "optout_changed_on")
	require.NotEmpty(t, changedOn)

	// saying it again: the reply, and nothing changes, not even when
	_, sprint := start(t, sa, env, contact, "sair")
	assert.Equal(t, "Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!", replyText(sprint))
	assert.Equal(t, changedOn, fieldText(sa, contact, "optout_changed_on"))
	for _, e := range sprint.Events() {
		assert.NotContains(t, []string{events.TypeContactFieldChanged, events.TypeContactGroupsChanged}, e.Type())
	}

	// the flow also works dropped into a conversation: started manually it waits for the contact's answer
	session, sprint := startManual(t, sa, env, contact)
	assert.Equal(t, goflows.SessionStatusWaiting, session.Status())
	assert.Equal(t, "", replyText(sprint), "nothing said before the contact answers")
	sprint, err = session.Resume(context.Background(), resumes.NewMsg(events.NewMsgReceived(goflows.NewMsgIn(contact.URNs()[0].Identity(), nil, "#voltar", nil, ""), "")))
	require.NoError(t, err)
	assert.Equal(t, "opted_in", fieldText(sa, contact, "optout_status"))
	assert.Nil(t, contact.Groups().FindByUUID(optedOutGroup(sa).UUID()))
	assert.Equal(t, "Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!", replyText(sprint))
}

func portableAssets(t *testing.T) goflows.SessionAssets {
	data, err := flows.Exports.ReadFile(flows.Portable)
	require.NoError(t, err)
	exp, err := export.Read(data)
	require.NoError(t, err)

	extra, err := fixtures.Extra(exp)
	require.NoError(t, err)
	src, err := exp.Source(extra)
	require.NoError(t, err)
	sa, err := goengine.NewSessionAssets(envs.NewBuilder().Build(), src, nil)
	require.NoError(t, err)

	// the portable export's dependencies are all in it but the two globals that point it at optout serve, which a
	// platform's admin sets, or leaves out
	deps, err := exp.Dependencies(nil)
	require.NoError(t, err)
	var missing []string
	for _, d := range deps {
		missing = append(missing, d.String())
		assert.Equal(t, export.EffectWarn, d.Effect)
	}
	assert.Equal(t, []string{"global optout_url", "global optout_token"}, missing)
	return sa
}

func start(t *testing.T, sa goflows.SessionAssets, env envs.Environment, contact *goflows.Contact, text string) (goflows.Session, goflows.Sprint) {
	msg := events.NewMsgReceived(goflows.NewMsgIn(contact.URNs()[0].Identity(), nil, text, nil, ""), "")
	trigger := triggers.NewBuilder(portableFlow()).MsgReceived(msg).Build()
	session, sprint, err := goengine.NewBuilder().Build().NewSession(context.Background(), sa, env, contact, trigger, nil)
	require.NoError(t, err)
	return session, sprint
}

func startManual(t *testing.T, sa goflows.SessionAssets, env envs.Environment, contact *goflows.Contact) (goflows.Session, goflows.Sprint) {
	trigger := triggers.NewBuilder(portableFlow()).Manual().Build()
	session, sprint, err := goengine.NewBuilder().Build().NewSession(context.Background(), sa, env, contact, trigger, nil)
	require.NoError(t, err)
	return session, sprint
}

func portableFlow() *assets.FlowReference {
	return assets.NewFlowReference("b7e2d4a0-6f3c-4c1e-8d29-5e4a7b9c0f12", "Opt-Out (portable)")
}

func optedOutGroup(sa goflows.SessionAssets) *goflows.Group {
	return sa.Groups().FindByName("Opted Out")
}

func fieldText(sa goflows.SessionAssets, contact *goflows.Contact, key string) string {
	if v := contact.Fields().Get(sa.Fields().Get(key)); v != nil {
		return v.Text.Native()
	}
	return ""
}

func replyText(sprint goflows.Sprint) string {
	for _, e := range sprint.Events() {
		if msg, ok := e.(*events.MsgCreated); ok {
			return msg.Msg.Text()
		}
	}
	return ""
}
