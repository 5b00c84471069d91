package consent

import (
	"time"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/keywords"
)

// Notification is what a host tells the business of a consent change. `optout serve` posts it to the workspace's
// webhook and the patched mailroom to the workspace's resthook, so that one receiver serves both:
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
// Every key is always there, an empty string when it doesn't apply (no keyword for a change made through an API), so
// that receivers see one shape.
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

// NewNotification returns the notification of a Changed event of the contact, who wrote from urn.
func NewNotification(e *Changed, contact flows.ContactUUID, urn urns.URN, client ClientInfo) *Notification {
	n := &Notification{
		Event: e.Intent,
		Data: Data{
			ContactUUID: string(contact),
			URN:         string(urn),
			Keyword:     e.Keyword,
			Language:    string(e.Language),
			MsgUUID:     string(e.MsgUUID),
			OccurredOn:  e.CreatedOn(),
		},
		ClientInfo: client,
	}
	if e.Channel != nil {
		n.Data.Channel = string(e.Channel.UUID)
	}
	return n
}

// Body returns the bytes to post (and sign): compact JSON, without HTML escaping, with the time in UTC.
func (n *Notification) Body() ([]byte, error) {
	c := *n
	c.Data.OccurredOn = c.Data.OccurredOn.UTC()
	return jsonx.Marshal(&c)
}
