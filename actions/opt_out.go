package actions

import (
	"context"

	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/keywords"
)

func init() {
	registerType(TypeOptOut, func() flows.Action { return &OptOut{} })
}

// TypeOptOut is the type of the opt-out action.
const TypeOptOut string = "opt_out"

// OptOut opts the contact out: it sets the contact field `optout_status` to `opted_out` and `optout_changed_on` to
// now, adds the contact to the workspace's opted-out group, logs a [event:consent_changed] event for the host to
// notify the business, and replies in the language of the keyword the contact sent. A contact who is already opted
// out gets the reply and nothing else.
//
//	{
//	  "uuid": "8eebd020-1af5-431c-b943-aa670fc74da9",
//	  "type": "opt_out"
//	}
type OptOut struct {
	consentChange
}

// NewOptOut creates a new opt-out action.
func NewOptOut(uuid flows.ActionUUID) *OptOut {
	return &OptOut{consentChange{Type_: TypeOptOut, UUID_: uuid}}
}

// Execute runs this action.
func (a *OptOut) Execute(ctx context.Context, run flows.Run, step flows.Step, log flows.EventLogger) error {
	return a.execute(ctx, run, keywords.OptOut, log)
}

var _ flows.Action = (*OptOut)(nil)
