package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/dates"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

var acme = &store.Workspace{ID: "acme", Name: "Acme & Sons <Ltd>", WebhookURL: "https://hooks.example.com/optout", WebhookSecret: "s3cr3t"}

func TestNotificationBody(t *testing.T) {
	sp := time.FixedZone("BRT", -3*60*60)
	ce := &store.ConsentEvent{
		ContactUUID: "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41",
		URN:         "whatsapp:5511999990000",
		Before:      consent.OptedIn,
		After:       consent.OptedOut,
		Keyword:     "parar",
		Language:    "por",
		MsgUUID:     "0197b335-6ded-79a4-95a6-3af85b57f109",
		Channel:     "57f1078f-88aa-46f4-a59a-948a5739c03d",
		Source:      store.SourceKeyword,
		OccurredOn:  time.Date(2026, 11, 21, 7, 4, 5, 123456000, sp),
	}
	n, err := webhook.NewNotification(acme, ce)
	require.NoError(t, err)
	body, err := n.Body()
	require.NoError(t, err)
	assert.Equal(t, `{"event":"opt_out",`+
		`"data":{"contact_uuid":"5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41","urn":"whatsapp:5511999990000","keyword":"parar",`+
		`"language":"por","channel":"57f1078f-88aa-46f4-a59a-948a5739c03d","msg_uuid":"0197b335-6ded-79a4-95a6-3af85b57f109",`+
		`"occurred_on":"2026-11-21T10:04:05.123456Z"},`+
		`"client_info":{"workspace":"acme","name":"Acme & Sons <Ltd>"}}`, string(body))

	// an opt-in through the API has no keyword, message or channel, and still every key
	n, err = webhook.NewNotification(acme, &store.ConsentEvent{
		ContactUUID: "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41",
		URN:         "whatsapp:5511999990000",
		After:       consent.OptedIn,
		Source:      store.SourceAPI,
		OccurredOn:  time.Date(2026, 11, 21, 10, 4, 5, 0, time.UTC),
	})
	require.NoError(t, err)
	body, err = n.Body()
	require.NoError(t, err)
	assert.Equal(t, `{"event":"opt_in",`+
		`"data":{"contact_uuid":"5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41","urn":"whatsapp:5511999990000","keyword":"",`+
		`"language":"","channel":"","msg_uuid":"","occurred_on":"2026-11-21T10:04:05Z"},`+
		`"client_info":{"workspace":"acme","name":"Acme & Sons <Ltd>"}}`, string(body))

	// Body doesn't change the notification
	n.Data.OccurredOn = ce.OccurredOn
	_, err = n.Body()
	require.NoError(t, err)
	assert.Equal(t, sp, n.Data.OccurredOn.Location())

	_, err = webhook.NewNotification(acme, &store.ConsentEvent{After: consent.Undefined})
	assert.EqualError(t, err, `no notification for a change to status ""`)
}

func TestNewEvent(t *testing.T) {
	uuids.SetGenerator(uuids.NewSeededGenerator(1234, dates.NewSequentialNow(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), time.Second)))
	defer uuids.SetGenerator(uuids.DefaultGenerator)

	now := time.Date(2026, 11, 21, 10, 4, 6, 0, time.UTC)
	ce := &store.ConsentEvent{ContactUUID: "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", URN: "whatsapp:5511999990000", After: consent.OptedOut, OccurredOn: now}
	ev, err := webhook.NewEvent(acme, ce, now)
	require.NoError(t, err)

	n, _ := webhook.NewNotification(acme, ce)
	body, _ := n.Body()
	assert.Equal(t, 7, uuids.Version(ev.ID))
	assert.Equal(t, &store.WebhookEvent{
		ID:          ev.ID,
		Workspace:   "acme",
		ContactUUID: "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41",
		Body:        body,
		Status:      store.WebhookPending,
		NextAttempt: now,
		CreatedOn:   now,
	}, ev)

	other, err := webhook.NewEvent(acme, ce, now)
	require.NoError(t, err)
	assert.NotEqual(t, ev.ID, other.ID)

	_, err = webhook.NewEvent(acme, &store.ConsentEvent{After: consent.Undefined}, now)
	assert.Error(t, err)
}

func TestSign(t *testing.T) {
	// the example of Wikipedia's HMAC article
	assert.Equal(t, "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
		webhook.Sign("key", []byte("The quick brown fox jumps over the lazy dog")))

	// what a receiver does
	body := []byte(`{"event":"opt_out"}`)
	mac := hmac.New(sha256.New, []byte("s3cr3t"))
	mac.Write(body)
	assert.True(t, hmac.Equal([]byte("sha256="+hex.EncodeToString(mac.Sum(nil))), []byte(webhook.Sign("s3cr3t", body))))
	assert.NotEqual(t, webhook.Sign("s3cr3t", body), webhook.Sign("other", body))
}
