package engine

import (
	"time"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
)

// ServiceWindow is how long after a contact's last message a business may send it free text. Outside it WhatsApp
// accepts only templates, and every message from the contact opens it again.
const ServiceWindow = 24 * time.Hour

// Origin is why a message is sent: in answer to what the contact wrote, or because the business writes first.
type Origin string

// The origins of outgoing messages. They are also the kind label of the service's decision metrics.
const (
	OriginReply     Origin = "reply"     // a flow answering the contact's own message
	OriginBroadcast Origin = "broadcast" // the business writing to many contacts at once
	OriginCampaign  Origin = "campaign"  // a campaign event firing for a contact
)

// Message is what is sent to a contact: a template, or free text when Template is empty.
type Message struct {
	Origin   Origin
	Template string // the template's name
	Category string // the template's category in either naming; when empty, the workspace's templates map decides
}

// Reason says why a message was not sent.
type Reason string

// The reasons a message is skipped.
const (
	ReasonOptedOut     Reason = "opted_out"
	ReasonWindowClosed Reason = "window_closed"
)

// Decision is whether to send a message to one recipient.
type Decision struct {
	Send   bool
	Reason Reason // empty when Send
}

// Decide says whether a message may go to a contact with the given status and last inbound message time. It is the
// one rule for every message a host sends (README's table):
//
//   - a template reaches an opted-out contact only if its category is one the workspace allows, whatever its origin;
//     a missing or unknown category counts as not allowed, so a misconfigured template errs on the side of the
//     contact;
//   - free text goes only inside the service window; and to an opted-out contact only as a reply to what the contact
//     wrote, never when the business writes first (a broadcast, a campaign), even inside the window, as the contact
//     who just sent PARAR is.
//
// An origin other than OriginReply counts as the business writing first, so a host that forgets to say fails closed.
func Decide(cfg *config.Config, status consent.Status, lastInbound, now time.Time, msg Message) Decision {
	optedOut := status == consent.OptedOut
	if msg.Template != "" {
		if optedOut && !cfg.Allows(templateCategory(cfg, msg)) {
			return Decision{Reason: ReasonOptedOut}
		}
		return Decision{Send: true}
	}
	if optedOut && msg.Origin != OriginReply {
		return Decision{Reason: ReasonOptedOut}
	}
	if lastInbound.IsZero() || now.Sub(lastInbound) >= ServiceWindow {
		return Decision{Reason: ReasonWindowClosed}
	}
	return Decision{Send: true}
}

func templateCategory(cfg *config.Config, msg Message) config.Category {
	if msg.Category == "" {
		cat, _ := cfg.TemplateCategory(msg.Template)
		return cat
	}
	cat, _ := config.ParseCategory(msg.Category)
	return cat
}
