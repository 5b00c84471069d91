package engine

import (
	"github.com/nyaruka/goflow/flows"
	goactions "github.com/nyaruka/goflow/flows/actions"
)

// FlowMessage is what a flow the business starts sends, for Decide: the first template one of its send_msg actions
// names, else free text. So a campaign event's flow reaches an opted-out contact only when it sends a template of an
// allowed category, and is decided before it runs rather than one message at a time.
func FlowMessage(flow flows.Flow, origin Origin) Message {
	msg := Message{Origin: origin}
	for _, node := range flow.Nodes() {
		for _, a := range node.Actions() {
			if send, ok := a.(*goactions.SendMsg); ok && send.Template != nil {
				msg.Template = send.Template.Name
				return msg
			}
		}
	}
	return msg
}
