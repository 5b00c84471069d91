package consent

import (
	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"

	"github.com/optout-dev/optout/keywords"
)

// TypeChanged is the type of the event logged when a contact opts out or back in.
const TypeChanged string = "consent_changed"

// Changed events are logged when a contact's opt-out status changes. They carry what a host needs to notify the
// business (the webhook) and to audit the change, so the host never has to re-derive it from field changes.
// Saying the keyword of the state the contact is already in logs no event.
//
//	{
//	  "uuid": "0197b335-6ded-79a4-95a6-3af85b57f108",
//	  "type": "consent_changed",
//	  "created_on": "2026-11-21T10:04:05Z",
//	  "intent": "opt_out",
//	  "status": "opted_out",
//	  "previous_status": "opted_in",
//	  "keyword": "parar",
//	  "language": "por",
//	  "msg_uuid": "0197b335-6ded-79a4-95a6-3af85b57f109",
//	  "channel": {"uuid": "57f1078f-88aa-46f4-a59a-948a5739c03d", "name": "WhatsApp"}
//	}
type Changed struct {
	events.BaseEvent

	Intent         keywords.Intent          `json:"intent"`
	Status         Status                   `json:"status"`
	PreviousStatus Status                   `json:"previous_status"`
	Keyword        string                   `json:"keyword"`
	Language       i18n.Language            `json:"language"`
	MsgUUID        flows.InputUUID          `json:"msg_uuid,omitempty"`
	Channel        *assets.ChannelReference `json:"channel,omitempty"`
}

// NewChanged creates a new consent changed event.
func NewChanged(intent keywords.Intent, previous Status, keyword string, lang i18n.Language, msgUUID flows.InputUUID, channel *assets.ChannelReference) *Changed {
	return &Changed{
		BaseEvent:      events.NewBaseEvent(TypeChanged),
		Intent:         intent,
		Status:         StatusFor(intent),
		PreviousStatus: previous,
		Keyword:        keyword,
		Language:       lang,
		MsgUUID:        msgUUID,
		Channel:        channel,
	}
}

var _ flows.Event = (*Changed)(nil)
