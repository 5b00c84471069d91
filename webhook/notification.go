package webhook

import (
	"fmt"
	"time"

	"github.com/nyaruka/gocommon/uuids"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/keywords"
	"github.com/optout-dev/optout/store"
)

// The notification is consent's, so that the business gets the same body from every host of the plugin.
type (
	Notification = consent.Notification
	Data         = consent.Data
	ClientInfo   = consent.ClientInfo
)

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
