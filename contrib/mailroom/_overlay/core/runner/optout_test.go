package runner_test

import (
	"testing"
	"time"

	"github.com/nyaruka/gocommon/dbutil/assertdb"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/triggers"
	"github.com/nyaruka/mailroom/v26/core/models"
	"github.com/nyaruka/mailroom/v26/core/runner"
	"github.com/nyaruka/mailroom/v26/runtime"
	"github.com/nyaruka/mailroom/v26/testsuite"
	"github.com/nyaruka/mailroom/v26/testsuite/testdb"
	"github.com/optout-dev/optout/consent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCatchKeyword(t *testing.T) {
	ctx, rt := testsuite.LocalRuntime(t)

	ana := testdb.InsertContactWithURN(t, rt, testdb.Org1, "Ana", "por", "tel:+5511987650001")
	scene := func(oa *models.OrgAssets) *runner.Scene {
		mc, contact, _ := ana.Load(t, rt, oa)
		return runner.NewScene(mc, contact)
	}
	msg := func(text string) *events.MsgReceived {
		return events.NewMsgReceived(flows.NewMsgIn(ana.URN, assets.NewChannelReference(testdb.TwilioChannel.UUID, "Twilio"), text, nil, ""), "")
	}

	// an org that hasn't imported the flow is left alone, keywords and all
	oa := testdb.Org1.Load(t, rt)
	caught, err := scene(oa).CatchKeyword(ctx, rt, oa, msg("PARAR"))
	require.NoError(t, err)
	assert.False(t, caught)

	flow := testdb.ImportOptout(t, rt, testdb.Org1)
	models.FlushCache()
	oa = testdb.Org1.Load(t, rt)

	// Ana is waiting in a flow
	s := scene(oa)
	require.NoError(t, s.StartSession(ctx, rt, oa, triggers.NewBuilder(testdb.Favorites.Reference()).Manual().Build(), true))
	require.NoError(t, s.Commit(ctx, rt, oa))
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM flows_flowsession WHERE contact_uuid = $1 AND status = 'W'`, ana.UUID).Returns(1)

	// which an ordinary message is for
	caught, err = scene(oa).CatchKeyword(ctx, rt, oa, msg("quero parar de receber"))
	require.NoError(t, err)
	assert.False(t, caught)

	// an opt-out ends it, and runs the org's opt-out flow as a session of its own
	s = scene(oa)
	caught, err = s.CatchKeyword(ctx, rt, oa, msg("PARAR"))
	require.NoError(t, err)
	assert.True(t, caught)
	require.NoError(t, s.Commit(ctx, rt, oa))

	assertdb.Query(t, rt.DB, `SELECT count(*) FROM flows_flowsession WHERE contact_uuid = $1 AND status = 'I'`, ana.UUID).Returns(1)
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM flows_flowrun WHERE contact_id = $1 AND flow_id = $2 AND status = 'C'`, ana.ID, flow.ID).Returns(1)
	assertdb.Query(t, rt.DB, `SELECT current_session_uuid FROM contacts_contact WHERE id = $1`, ana.ID).Returns(nil)
	assertdb.Query(t, rt.DB, `SELECT text FROM msgs_msg WHERE contact_id = $1 AND direction = 'O' ORDER BY id DESC LIMIT 1`, ana.ID).
		Returns("Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!")
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM contacts_contactgroup_contacts gc JOIN contacts_contactgroup g ON g.id = gc.contactgroup_id WHERE gc.contact_id = $1 AND g.name = 'Opted Out'`, ana.ID).Returns(1)

	models.FlushCache()
	oa = testdb.Org1.Load(t, rt)
	_, contact, _ := ana.Load(t, rt, oa)
	assert.Equal(t, consent.OptedOut, consent.StatusOf(oa.SessionAssets(), contact))
	assert.Contains(t, eventTypes(s.Events()), consent.TypeChanged)

	// a workspace whose fields are gone can't record a change, and says so rather than answer
	rt.DB.MustExec(`UPDATE contacts_contactfield SET is_active = FALSE WHERE org_id = $1 AND key = 'optout_status'`, testdb.Org1.ID)
	models.FlushCache()
	oa = testdb.Org1.Load(t, rt)
	_, err = scene(oa).CatchKeyword(ctx, rt, oa, msg("#voltar"))
	assert.ErrorContains(t, err, `workspace has no field "optout_status"`)
}

func TestDecideBroadcast(t *testing.T) {
	ctx, rt := testsuite.LocalRuntime(t)

	testdb.ImportOptout(t, rt, testdb.Org1)
	testdb.InsertChannel(t, rt, testdb.Org1, "WAC", "WhatsApp", "5511999990000", []string{"whatsapp"}, "SR", map[string]any{})
	rt.DB.MustExec(`UPDATE orgs_org SET config = config || '{"optout": {"config": {"templates": {"promo": "MARKETING", "code": "AUTHENTICATION"}}}}' WHERE id = $1`, testdb.Org1.ID)
	t.Cleanup(func() { rt.DB.MustExec(`UPDATE orgs_org SET config = config - 'optout'`) })
	promo, code := insertTemplate(t, rt, "promo"), insertTemplate(t, rt, "code")

	out := testdb.InsertContactWithURN(t, rt, testdb.Org1, "Out", "por", "whatsapp:5511987650001")
	stale := testdb.InsertContactWithURN(t, rt, testdb.Org1, "Stale", "por", "whatsapp:5511987650002")
	recent := testdb.InsertContactWithURN(t, rt, testdb.Org1, "Recent", "por", "whatsapp:5511987650003")
	sms := testdb.InsertContactWithURN(t, rt, testdb.Org1, "SMS", "por", "tel:+5511987650004")
	testdb.SetOptoutStatus(t, rt, testdb.Org1, out, consent.OptedOut)
	testdb.SetOptoutStatus(t, rt, testdb.Org1, stale, consent.OptedIn)
	for c, seen := range map[*testdb.Contact]time.Duration{out: time.Hour, stale: 30 * time.Hour, recent: time.Hour} {
		rt.DB.MustExec(`UPDATE contacts_contact SET last_seen_on = NOW() - $2::interval WHERE id = $1`, c.ID, seen.String())
	}
	all := []*testdb.Contact{out, stale, recent, sms}

	models.FlushCache()
	oa := testdb.Org1.Load(t, rt)

	tests := []struct {
		description string
		template    models.TemplateID
		expected    []*testdb.Contact
	}{
		// not to the opted out, not on WhatsApp outside the window, on SMS whenever
		{"free text", models.NilTemplateID, []*testdb.Contact{recent, sms}},
		{"a marketing template", promo, []*testdb.Contact{stale, recent, sms}},
		{"a one-time password, which the defaults allow", code, all},
	}
	for _, tc := range tests {
		bcast := models.NewBroadcast(oa.OrgID(), flows.BroadcastTranslations{"por": {Text: "Olá"}}, "por", false, models.NilOptInID, nil, contactIDs(all), nil, "", models.NoExclusions, models.NilUserID)
		bcast.TemplateID = tc.template
		scenes, skipped, err := runner.BroadcastWithLock(ctx, rt, oa, bcast, &models.BroadcastBatch{ContactIDs: contactIDs(all)}, models.StartModeBackground)
		require.NoError(t, err, tc.description)
		assert.Empty(t, skipped, tc.description)
		assert.ElementsMatch(t, contactIDs(tc.expected), sceneContactIDs(scenes), tc.description)
	}
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM msgs_msg WHERE contact_id = $1`, out.ID).Returns(1)
}

func TestDecideStart(t *testing.T) {
	ctx, rt := testsuite.LocalRuntime(t)

	testdb.ImportOptout(t, rt, testdb.Org1)
	out := testdb.InsertContactWithURN(t, rt, testdb.Org1, "Out", "por", "tel:+5511987650001")
	in := testdb.InsertContactWithURN(t, rt, testdb.Org1, "In", "por", "tel:+5511987650002")
	testdb.SetOptoutStatus(t, rt, testdb.Org1, out, consent.OptedOut)
	testdb.SetOptoutStatus(t, rt, testdb.Org1, in, consent.OptedIn)
	both := []*testdb.Contact{out, in}

	otp := testdb.InsertFlow(t, rt, testdb.Org1, []byte(`{"uuid": "0b2a7c1e-3f4d-4e5a-9b6c-7d8e9f0a1b2c", "name": "Login Code", "spec_version": "13.1.0", "language": "eng", "type": "messaging",
		"nodes": [{"uuid": "5a1e2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b", "exits": [{"uuid": "6b2f3c4d-5e6f-4071-9b8c-0d1e2f3a4b5c"}],
		"actions": [{"uuid": "7c3a4d5e-6f70-4182-8c9d-1e2f3a4b5c6d", "type": "send_msg", "text": "Your code is 1234", "templating": {"template": {"uuid": "8d4b5e6f-7081-4293-9dae-2f3a4b5c6d7e", "name": "login_code"}, "variables": []}}]}]}`))
	rt.DB.MustExec(`UPDATE orgs_org SET config = config || '{"optout": {"config": {"templates": {"login_code": "AUTHENTICATION"}}}}' WHERE id = $1`, testdb.Org1.ID)
	t.Cleanup(func() { rt.DB.MustExec(`UPDATE orgs_org SET config = config - 'optout'`) })

	models.FlushCache()
	oa := testdb.Org1.Load(t, rt)
	campaign := oa.SessionAssets().Campaigns().Get(testdb.RemindersCampaign.UUID)
	require.NotNil(t, campaign)

	tests := []struct {
		description string
		flow        *testdb.Flow
		campaign    bool
		expected    []*testdb.Contact
	}{
		{"a campaign event's flow of free text", testdb.SingleMessage, true, []*testdb.Contact{in}},
		{"a campaign event's flow sending an allowed template", otp, true, both},
		{"a flow the business starts for chosen contacts", testdb.SingleMessage, false, both},
	}
	for _, tc := range tests {
		build := func() flows.Trigger {
			tb := triggers.NewBuilder(tc.flow.Reference())
			if tc.campaign {
				return tb.CampaignFired(events.NewCampaignFired(campaign, testdb.RemindersPoint1.UUID), campaign).Build()
			}
			return tb.Manual().Build()
		}
		scenes, _, err := runner.StartWithLock(ctx, rt, oa, contactIDs(both), build, models.StartModeInterrupt, models.NilStartID)
		require.NoError(t, err, tc.description)
		assert.ElementsMatch(t, contactIDs(tc.expected), sceneContactIDs(scenes), tc.description)
	}
}

// insertTemplate inserts a template with no translations, which is all the decision needs: its name.
func insertTemplate(t *testing.T, rt *runtime.Runtime, name string) models.TemplateID {
	var id models.TemplateID
	err := rt.DB.Get(&id, `INSERT INTO templates_template(is_active, created_on, modified_on, uuid, is_system, name, created_by_id, modified_by_id, org_id)
	VALUES(TRUE, NOW(), NOW(), $1, FALSE, $2, $3, $3, $4) RETURNING id`, uuids.NewV4(), name, testdb.Admin.ID, testdb.Org1.ID)
	require.NoError(t, err)
	return id
}

func contactIDs(contacts []*testdb.Contact) []models.ContactID {
	ids := make([]models.ContactID, len(contacts))
	for i, c := range contacts {
		ids[i] = c.ID
	}
	return ids
}

func sceneContactIDs(scenes []*runner.Scene) []models.ContactID {
	ids := make([]models.ContactID, len(scenes))
	for i, s := range scenes {
		ids[i] = s.ContactID()
	}
	return ids
}

func eventTypes(evts []flows.Event) []string {
	types := make([]string, len(evts))
	for i, e := range evts {
		types[i] = e.Type()
	}
	return types
}
