package webhook

import (
	"fmt"
	"time"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/gocommon/uuids"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/keywords"
	"github.com/optout-dev/optout/store"
)

// Notification is what the business is told of a consent change:
//
//	{
//	  "event": "opt_out",
//	  "data": {
//	    "contact_uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41",
//	    "urn": "whatsapp:5511999990000",
//	    "keyword": "parar",
//	    "language": "por",
//	    "channel": "57f1078f-88aa-46f4-a59a-948a5739c03d",
//	    "msg_uuid": "0197b335-6ded-79a4-95a6-3af85b57f109",
//	    "occurred_on": "2026-11-21T10:04:05.123456Z"
//	  },
//	  "client_info": {"workspace": "acme", "name": "Acme Ltd"}
//	}
//
// Every key is always there, an empty string when it doesn't apply (no keyword for a change made through the API),
// so that receivers see one shape.
type Notification struct {
	Event      keywords.Intent `json:"event"` // opt_out or opt_in
	Data       Data            `json:"data"`
	ClientInfo ClientInfo      `json:"client_info"`
}

// Data is the change itself. Its fields are plain strings, as goflow's types don't all write an empty value as "".
type Data struct {
	ContactUUID string    `json:"contact_uuid"`
	URN         string    `json:"urn"`
	Keyword     string    `json:"keyword"`
	Language    string    `json:"language"`
	Channel     string    `json:"channel"`
	MsgUUID     string    `json:"msg_uuid"`
	OccurredOn  time.Time `json:"occurred_on"`
}

// ClientInfo names the workspace, so that a business with several workspaces can tell them apart.
type ClientInfo struct {
	Workspace string `json:"workspace"`
	Name      string `json:"name"`
}

// NewNotification returns the notification of a row of the consent audit log.
func NewNotification(ws *store.Workspace, ce *store.ConsentEvent) (*Notification, error) {
	var event keywords.Intent
	switch ce.After {
	case consent.OptedOut:
		event = keywords.OptOut
	case consent.OptedIn:
		event = keywords.OptIn
	default:
		return nil, fmt.Errorf("no notification for a change to status %q", ce.After)
	}
	return &Notification{
		Event: event,
		Data: Data{
			ContactUUID: string(ce.ContactUUID),
			URN:         string(ce.URN),
			Keyword:     ce.Keyword,
			Language:    string(ce.Language),
			Channel:     string(ce.Channel),
			MsgUUID:     string(ce.MsgUUID),
			OccurredOn:  ce.OccurredOn,
		},
		ClientInfo: ClientInfo{Workspace: ws.ID, Name: ws.Name},
	}, nil
}

// Body returns the bytes to post and sign: compact JSON, without HTML escaping, with the time in UTC.
func (n *Notification) Body() ([]byte, error) {
	c := *n
	c.Data.OccurredOn = c.Data.OccurredOn.UTC()
	return jsonx.Marshal(&c)
}

// NewEvent returns the outbox row that delivers the notification of a row of the consent audit log, due at once.
// The service adds it to the same store.Change as the consent event, so a change is never committed without it.
func NewEvent(ws *store.Workspace, ce *store.ConsentEvent, now time.Time) (*store.WebhookEvent, error) {
	n, err := NewNotification(ws, ce)
	if err != nil {
		return nil, err
	}
	body, err := n.Body()
	if err != nil {
		return nil, err
	}
	return &store.WebhookEvent{
		ID:          string(uuids.NewV7()),
		Workspace:   ws.ID,
		ContactUUID: ce.ContactUUID,
		Body:        body,
		Status:      store.WebhookPending,
		NextAttempt: now,
		CreatedOn:   now,
	}, nil
}
