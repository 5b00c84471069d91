package actions

import (
	"context"

	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/keywords"
)

func init() {
	registerType(TypeOptIn, func() flows.Action { return &OptIn{} })
}

// TypeOptIn is the type of the opt-in action.
const TypeOptIn string = "opt_in"

// OptIn brings an opted-out contact back: it sets the contact field `optout_status` to `opted_in` and
// `optout_changed_on` to now, removes the contact from the workspace's opted-out group, logs a
// [event:consent_changed] event for the host to notify the business, and replies in the language of the keyword the
// contact sent. A contact who is already opted in gets the reply and nothing else.
//
//	{
//	  "uuid": "8eebd020-1af5-431c-b943-aa670fc74da9",
//	  "type": "opt_in"
//	}
type OptIn struct {
	consentChange
}

// NewOptIn creates a new opt-in action.
func NewOptIn(uuid flows.ActionUUID) *OptIn {
	return &OptIn{consentChange{Type_: TypeOptIn, UUID_: uuid}}
}

// Execute runs this action.
func (a *OptIn) Execute(ctx context.Context, run flows.Run, step flows.Step, log flows.EventLogger) error {
	return a.execute(ctx, run, keywords.OptIn, log)
}

var _ flows.Action = (*OptIn)(nil)
