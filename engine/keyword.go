package engine

import (
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/triggers"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/keywords"
)

// Keyword is what an incoming message is to the plugin: its match against the workspace's keywords and, when it is
// one, the trigger that starts the flow handling it.
type Keyword struct {
	keywords.Match
	Trigger flows.Trigger // nil when the message is no keyword
}

// MatchKeyword checks an incoming message against the workspace's keywords, which a host does before it gives the
// message to the contact's waiting session or to a trigger. On a keyword it returns the trigger that starts flow for
// the contact: the host starts it as it starts any session, so a host that persists only sessions of its own flows
// (mailroom) passes its copy of flows/optout.json, and a host whose assets come from NewSessionAssets passes
// SystemFlow(). A host that interrupts sessions must end the contact's waiting session on an opt-out: no flow goes on
// talking to a contact who left.
//
// A workspace without the fields and group the flow records the change in is an error, rather than a keyword
// answered and forgotten. Most messages are no keyword: for them it does no I/O and allocates nothing.
func MatchKeyword(sa flows.SessionAssets, contact *flows.Contact, msg *events.MsgReceived, flow *assets.FlowReference) (Keyword, error) {
	kw := Keyword{Match: config.For(sa).Keywords.Match(msg.Msg.Text(), contact.Language())}
	if kw.Intent == keywords.None {
		return kw, nil
	}
	if err := CheckAssets(sa); err != nil {
		return kw, err
	}
	kw.Trigger = triggers.NewBuilder(flow).MsgReceived(msg).Build()
	return kw, nil
}
