package engine

import (
	"time"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
)

// ServiceWindow is how long after a contact's last message a business may send it free text. Outside it WhatsApp
// accepts only templates, and every message from the contact opens it again.
const ServiceWindow = 24 * time.Hour

// Message is what a broadcast or campaign event sends: a template, or free text when Template is empty.
type Message struct {
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

// Decide says whether a message may go to a contact with the given status and last inbound message time. A template
// reaches an opted-out contact only if its category is one the workspace allows; a missing or unknown category
// counts as not allowed, so a misconfigured template errs on the side of the contact. Free text goes only inside the
// service window, opted out or not: a contact who writes in after opting out may be answered.
func Decide(cfg *config.Config, status consent.Status, lastInbound, now time.Time, msg Message) Decision {
	if msg.Template == "" {
		if lastInbound.IsZero() || now.Sub(lastInbound) >= ServiceWindow {
			return Decision{Reason: ReasonWindowClosed}
		}
		return Decision{Send: true}
	}

	if status == consent.OptedOut && !cfg.Allows(templateCategory(cfg, msg)) {
		return Decision{Reason: ReasonOptedOut}
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

// DecideCampaign is Decide for a campaign event, which is the business writing first: an opted-out contact gets a
// campaign's message or flow only when it sends a template of an allowed category, even inside the service window.
func DecideCampaign(cfg *config.Config, status consent.Status, lastInbound, now time.Time, msg Message) Decision {
	if status == consent.OptedOut && msg.Template == "" {
		return Decision{Reason: ReasonOptedOut}
	}
	return Decide(cfg, status, lastInbound, now, msg)
}
