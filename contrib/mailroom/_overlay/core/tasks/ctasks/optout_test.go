package ctasks_test

import (
	"testing"

	"github.com/nyaruka/gocommon/dbutil/assertdb"
	"github.com/nyaruka/mailroom/v26/core/models"
	"github.com/nyaruka/mailroom/v26/core/tasks/ctasks"
	"github.com/nyaruka/mailroom/v26/testsuite"
	"github.com/nyaruka/mailroom/v26/testsuite/testdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMsgReceivedOptout sends a contact's messages through the msg_received task of a workspace that imported the
// opt-out flow: its keywords go to that flow before the contact's waiting session and the org's triggers see them.
func TestMsgReceivedOptout(t *testing.T) {
	_, rt := testsuite.LocalRuntime(t)

	optout := testdb.ImportOptout(t, rt, testdb.Org1)
	resthook := testdb.InsertResthook(t, rt, testdb.Org1, "optout")
	testdb.InsertKeywordTrigger(t, rt, testdb.Org1, testdb.Favorites, []string{"start"}, models.MatchOnly, nil, nil, nil)
	testdb.InsertKeywordTrigger(t, rt, testdb.Org1, testdb.PickANumber, []string{"parar"}, models.MatchOnly, nil, nil, nil)
	ana := testdb.InsertContactWithURN(t, rt, testdb.Org1, "Ana", "por", "tel:+5511987650001")
	msg := testdb.InsertIncomingMsg(t, rt, testdb.Org1, "019b2f5e-6c1a-7d3e-8f4a-5b6c7d8e9f01", testdb.TwilioChannel, ana, "", models.MsgStatusPending, "")

	receive := func(text string) {
		models.FlushCache()
		rt.DB.MustExec(`UPDATE msgs_msg SET status = 'P', flow_id = NULL WHERE id = $1`, msg.ID)
		testsuite.QueueContactTask(t, rt, testdb.Org1, ana, &ctasks.MsgReceived{ChannelID: testdb.TwilioChannel.ID, MsgUUID: msg.UUID, URN: ana.URN, URNID: ana.URNID, Text: text})
		testsuite.FlushTasks(t, rt)
	}
	inOptedOut := `SELECT count(*) FROM contacts_contactgroup_contacts gc JOIN contacts_contactgroup g ON g.id = gc.contactgroup_id WHERE gc.contact_id = $1 AND g.name = 'Opted Out'`

	receive("start")
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM flows_flowsession WHERE contact_uuid = $1 AND status = 'W'`, ana.UUID).Returns(1)

	// the keyword goes to the opt-out flow, not to the flow waiting for an answer nor to the trigger of the same word
	receive("Parar!")
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM flows_flowsession WHERE contact_uuid = $1 AND status = 'W'`, ana.UUID).Returns(0)
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM flows_flowsession WHERE contact_uuid = $1 AND status = 'I'`, ana.UUID).Returns(1)
	assertdb.Query(t, rt.DB, `SELECT flow_id FROM flows_flowrun WHERE contact_id = $1 ORDER BY id DESC LIMIT 1`, ana.ID).Returns(int64(optout.ID))
	assertdb.Query(t, rt.DB, `SELECT status FROM msgs_msg WHERE id = $1`, msg.ID).Returns("H")
	assertdb.Query(t, rt.DB, inOptedOut, ana.ID).Returns(1)
	assertdb.Query(t, rt.DB, `SELECT data::jsonb->>'event' FROM api_webhookevent WHERE resthook_id = $1`, resthook.ID).Returns("opt_out")

	// what follows resumes nothing
	receive("purple")

	// and the contact comes back
	receive("#voltar")
	assertdb.Query(t, rt.DB, inOptedOut, ana.ID).Returns(0)
	assertdb.Query(t, rt.DB, `SELECT data::jsonb->>'event' FROM api_webhookevent WHERE resthook_id = $1 ORDER BY id DESC LIMIT 1`, resthook.ID).Returns("opt_in")

	var replies []string
	require.NoError(t, rt.DB.Select(&replies, `SELECT text FROM msgs_msg WHERE contact_id = $1 AND direction = 'O' ORDER BY id`, ana.ID))
	assert.Equal(t, []string{
		"What is your favorite color?",
		"Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!",
		"Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!",
	}, replies)
}
