package consent_test

import (
	"testing"
	"time"

	"github.com/nyaruka/gocommon/dates"
	"github.com/nyaruka/goflow/assets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/keywords"
)

func TestNotification(t *testing.T) {
	sp := time.FixedZone("BRT", -3*60*60)
	defer dates.SetNowFunc(time.Now)
	dates.SetNowFunc(dates.NewFixedNow(time.Date(2026, 11, 21, 7, 4, 5, 123456000, sp)))

	client := consent.ClientInfo{Workspace: "acme", Name: "Acme <Ltd>"}
	channel := assets.NewChannelReference("57f1078f-88aa-46f4-a59a-948a5739c03d", "WhatsApp")

	out := consent.NewChanged(keywords.OptOut, consent.OptedIn, "parar", "por", "0197b335-6ded-79a4-95a6-3af85b57f109", channel)
	body, err := consent.NewNotification(out, "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "whatsapp:5511999990000", client).Body()
	require.NoError(t, err)
	assert.JSONEq(t, `{"event": "opt_out", "data": {"contact_uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41",
		"urn": "whatsapp:5511999990000", "keyword": "parar", "language": "por", "channel": "57f1078f-88aa-46f4-a59a-948a5739c03d",
		"msg_uuid": "0197b335-6ded-79a4-95a6-3af85b57f109", "occurred_on": "2026-11-21T10:04:05.123456Z"},
		"client_info": {"workspace": "acme", "name": "Acme <Ltd>"}}`, string(body))
	assert.Contains(t, string(body), `"Acme <Ltd>"`, "not HTML-escaped")

	// a change made by a flow without input: every key is still there
	in := consent.NewChanged(keywords.OptIn, consent.OptedOut, "", "eng", "", nil)
	body, err = consent.NewNotification(in, "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "", client).Body()
	require.NoError(t, err)
	assert.JSONEq(t, `{"event": "opt_in", "data": {"contact_uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "",
		"keyword": "", "language": "eng", "channel": "", "msg_uuid": "", "occurred_on": "2026-11-21T10:04:05.123456Z"},
		"client_info": {"workspace": "acme", "name": "Acme <Ltd>"}}`, string(body))
}
