// Package inputtext reads the text of a session's input, which the keyword router and the consent actions match
// against the workspace's keywords.
package inputtext

import (
	"github.com/nyaruka/goflow/excellent/types"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
)

// Of returns the text of the session's input, as @input.text evaluates it, and false when the session has no input
// or an input without text.
//
// An input made of the message that triggered the session has that message's UUID, and then the text is read from
// the message: the input's context would build its URN and channel only for the text to be taken out of it, which
// was a quarter of the allocations of handling a keyword.
func Of(s flows.Session) (string, bool) {
	input := s.Input()
	if input == nil {
		return "", false
	}
	if msg, ok := s.Trigger().Event().(*events.MsgReceived); ok && flows.InputUUID(msg.UUID()) == input.UUID() {
		return msg.Msg.Text(), true
	}
	text, ok := input.Context(s.MergedEnvironment())["text"].(*types.XText)
	if !ok {
		return "", false
	}
	return text.Native(), true
}
