package crons_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/dbutil/assertdb"
	"github.com/nyaruka/gocommon/httpx"
	"github.com/nyaruka/mailroom/v26/core/crons"
	"github.com/nyaruka/mailroom/v26/runtime"
	"github.com/nyaruka/mailroom/v26/testsuite"
	"github.com/nyaruka/mailroom/v26/testsuite/testdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptoutResthooks(t *testing.T) {
	ctx, rt := testsuite.LocalRuntime(t)

	optout := testdb.InsertResthook(t, rt, testdb.Org1, "optout")
	other := testdb.InsertResthook(t, rt, testdb.Org1, "new-order") // a resthook of the org's flows
	testdb.InsertResthookSubscriber(t, rt, optout, "https://acme.example/optout", time.Now().Add(-time.Hour))
	testdb.InsertResthookSubscriber(t, rt, other, "https://acme.example/orders", time.Now().Add(-time.Hour))

	notification := func(event string) string {
		return fmt.Sprintf(`{"event": %q, "data": {"contact_uuid": "a393abc0-283d-4c9b-a1b3-641a035c34bf"}, "client_info": {"workspace": "bf0514a5-9407-44c9-b0f9-3f36f9c18414", "name": "TextIt"}}`, event)
	}
	// id 0 takes the next from the sequence; age is how long before now the event was written
	insert := func(rh *testdb.Resthook, id int64, data string, age time.Duration) int64 {
		if id == 0 {
			require.NoError(t, rt.DB.Get(&id, `INSERT INTO api_webhookevent(data, action, created_on, org_id, resthook_id) VALUES($1, 'POST', NOW() - $2::interval, $3, $4) RETURNING id`, data, age.String(), testdb.Org1.ID, rh.ID))
		} else {
			rt.DB.MustExec(`INSERT INTO api_webhookevent(id, data, action, created_on, org_id, resthook_id) VALUES($1, $2, 'POST', NOW() - $3::interval, $4, $5)`, id, data, age.String(), testdb.Org1.ID, rh.ID)
			rt.DB.MustExec(`SELECT setval(pg_get_serial_sequence('api_webhookevent', 'id'), (SELECT MAX(id) FROM api_webhookevent))`)
		}
		return id
	}

	insert(optout, 0, notification("opt_out"), 2*time.Hour) // before the subscription
	e2 := insert(optout, 0, notification("opt_out"), 20*time.Minute)
	e3 := insert(optout, 0, notification("opt_in"), 15*time.Minute)
	insert(optout, 0, `{"contact": {"uuid": "a393abc0-283d-4c9b-a1b3-641a035c34bf"}}`, 15*time.Minute) // a flow calling the resthook
	e5 := insert(optout, e3+10, notification("opt_out"), 0)                                            // written after id e3+5 was taken
	insert(other, 0, `{"order": 1}`, 0)

	cron := &crons.OptoutResthooksCron{BatchSize: 100, Settle: 10 * time.Minute}
	run := func(responses ...int) (map[string]any, []int64) {
		mocks := make([]*httpx.MockResponse, len(responses))
		for i, status := range responses {
			mocks[i] = httpx.NewMockResponse(status, nil, []byte(`{}`))
		}
		transport := httpx.WithMocks(nil, map[string][]*httpx.MockResponse{"https://acme.example/optout": mocks})
		rt.HTTP.Engine.Transport = transport

		res, err := cron.Run(ctx, rt)
		require.NoError(t, err)
		assert.False(t, transport.HasUnused())
		return res, postedIDs(t, transport.Requests())
	}

	// the business's notifications since it subscribed, in order, and nothing else
	res, posted := run(200, 200, 200)
	assert.Equal(t, map[string]any{"posted": 3, "failing": 0}, res)
	assert.Equal(t, []int64{e2, e3, e5}, posted)
	assert.Equal(t, int64(e3+1), cursor(t, rt), "past the settled events, not past the one just written")

	// nothing twice
	res, posted = run()
	assert.Equal(t, map[string]any{"posted": 0, "failing": 0}, res)
	assert.Empty(t, posted)

	// an event whose transaction took its id before e5's but committed after it was posted is still posted
	late := insert(optout, e3+5, notification("opt_in"), 0)
	_, posted = run(200)
	assert.Equal(t, []int64{late}, posted)

	// a failure holds back what follows until it is answered
	e7 := insert(optout, 0, notification("opt_out"), 0)
	e8 := insert(optout, 0, notification("opt_in"), 0)
	res, posted = run(500)
	assert.Equal(t, map[string]any{"posted": 0, "failing": 1}, res)
	assert.Equal(t, []int64{e7}, posted)
	_, posted = run(200, 200)
	assert.Equal(t, []int64{e7, e8}, posted)

	// once settled, the cursor moves past everything posted
	rt.DB.MustExec(`UPDATE api_webhookevent SET created_on = created_on - INTERVAL '1 hour' WHERE resthook_id = $1`, optout.ID)
	run()
	assert.Equal(t, e8, cursor(t, rt))

	// a subscriber that is gone is unsubscribed, as for resthooks called by flows
	insert(optout, 0, notification("opt_out"), 0)
	run(410)
	assertdb.Query(t, rt.DB, `SELECT count(*) FROM api_resthooksubscriber WHERE resthook_id = $1 AND is_active`, optout.ID).Returns(0)
	res, _ = run()
	assert.Equal(t, map[string]any{"posted": 0, "failing": 0}, res)
}

// postedIDs returns the X-Optout-Event-Id of each request, checking that it posted a notification.
func postedIDs(t *testing.T, requests []*http.Request) []int64 {
	ids := make([]int64, len(requests))
	for i, r := range requests {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		body, err := r.GetBody()
		require.NoError(t, err)
		data, err := io.ReadAll(body)
		require.NoError(t, err)
		assert.Contains(t, string(data), `"client_info"`)

		ids[i], err = strconv.ParseInt(r.Header.Get("X-Optout-Event-Id"), 10, 64)
		require.NoError(t, err)
	}
	return ids
}

func cursor(t *testing.T, rt *runtime.Runtime) int64 {
	vc := rt.VK.Get()
	defer vc.Close()
	var c int64
	values, err := vc.Do("HVALS", "optout_resthooks:cursors")
	require.NoError(t, err)
	require.Len(t, values, 1)
	c, err = strconv.ParseInt(string(values.([]any)[0].([]byte)), 10, 64)
	require.NoError(t, err)
	return c
}
