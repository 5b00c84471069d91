package handlers_test

import (
	"testing"

	"github.com/nyaruka/gocommon/dbutil/assertdb"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/test"
	"github.com/nyaruka/mailroom/v26/core/models"
	"github.com/nyaruka/mailroom/v26/core/runner"
	"github.com/nyaruka/mailroom/v26/testsuite"
	"github.com/nyaruka/mailroom/v26/testsuite/testdb"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/keywords"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConsentChanged(t *testing.T) {
	ctx, rt := testsuite.LocalRuntime(t)

	defer test.MockUniverse()()

	testdb.ImportOptout(t, rt, testdb.Org1)
	ana := testdb.InsertContactWithURN(t, rt, testdb.Org1, "Ana", "por", "whatsapp:5511987650001")
	channel := assets.NewChannelReference("74729f45-7f29-4868-9dc4-90e491e3c7d8", "Twilio")

	change := func(intent keywords.Intent, previous consent.Status) {
		models.FlushCache()
		oa := testdb.Org1.Load(t, rt)
		mc, contact, _ := ana.Load(t, rt, oa)
		scene := runner.NewScene(mc, contact)
		require.NoError(t, scene.AddEvent(ctx, rt, oa, consent.NewChanged(intent, previous, "parar", "por", "0197b335-6ded-79a4-95a6-3af85b57f109", channel), models.NilUserID, ""))
		require.NoError(t, scene.Commit(ctx, rt, oa))
	}

	// an org without the resthook has nobody to tell
	change(keywords.OptOut, consent.Undefined)
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM api_webhookevent`).Returns(0)

	// once the business made it, every change is an event of it, written with the change
	optout := testdb.InsertResthook(t, rt, testdb.Org1, "optout")
	change(keywords.OptIn, consent.OptedOut)
	var data string
	require.NoError(t, rt.DB.Get(&data, `SELECT data FROM api_webhookevent WHERE resthook_id = $1`, optout.ID))
	assert.JSONEq(t, `{"event": "opt_in", "data": {"contact_uuid": "`+string(ana.UUID)+`", "urn": "whatsapp:5511987650001", "keyword": "parar",
		"language": "por", "channel": "74729f45-7f29-4868-9dc4-90e491e3c7d8", "msg_uuid": "0197b335-6ded-79a4-95a6-3af85b57f109",
		"occurred_on": "2025-05-04T12:30:48.123456789Z"}, "client_info": {"workspace": "bf0514a5-9407-44c9-b0f9-3f36f9c18414", "name": "TextIt"}}`, data)

	// the org may name another resthook
	rt.DB.MustExec(`UPDATE orgs_org SET config = config || '{"optout": {"resthook": "consent"}}' WHERE id = $1`, testdb.Org1.ID)
	t.Cleanup(func() { rt.DB.MustExec(`UPDATE orgs_org SET config = config - 'optout'`) })
	other := testdb.InsertResthook(t, rt, testdb.Org1, "consent")
	change(keywords.OptOut, consent.OptedIn)
	assertdb.Query(t, rt.DB, `SELECT data::jsonb->>'event' FROM api_webhookevent WHERE resthook_id = $1`, other.ID).Returns("opt_out")
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM api_webhookevent WHERE resthook_id = $1`, optout.ID).Returns(1)
}
