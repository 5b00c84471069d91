package service

import (
	"context"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

// outcome collects what a piece of work did to one contact, to be committed as one store.Change.
type outcome struct {
	w       *workspace
	contact *flows.Contact
	before  consent.Status // the contact's status before the work
	channel assets.ChannelUUID
	msgUUID flows.InputUUID

	change  store.Change
	replies []*store.OutgoingMsg
}

func (s *Service) newOutcome(w *workspace, contact *flows.Contact, channel assets.ChannelUUID, msgUUID flows.InputUUID) *outcome {
	return &outcome{
		w:       w,
		contact: contact,
		before:  consent.StatusOf(w.sa, contact),
		channel: channel,
		msgUUID: msgUUID,
		change:  store.Change{Workspace: w.ID},
	}
}

// add takes in the events of a sprint: the messages it created are queued to send, and each consent change becomes
// an audit row and a webhook event. A change the plugin's actions made carries their consent_changed event; one a
// flow made by setting the status field itself is found by comparing the status afterwards, in finish.
func (s *Service) add(o *outcome, evts []flows.Event, source store.Source) error {
	for _, e := range evts {
		switch e := e.(type) {
		case *events.MsgCreated:
			o.replies = append(o.replies, &store.OutgoingMsg{
				Workspace:   o.w.ID,
				ContactUUID: o.contact.UUID(),
				URN:         e.Msg.URN().Identity(),
				Channel:     o.channel,
				Text:        e.Msg.Text(),
				Template:    templateName(e.Msg),
				Source:      "reply",
				CreatedOn:   e.CreatedOn(),
			})
		case *consent.Changed:
			if err := s.recordConsent(o, e.PreviousStatus, e.Status, e.Keyword, e.Language, source); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish records a consent change that no consent_changed event accounted for, which a flow made by setting the
// status field itself, and queues the replies.
func (s *Service) finish(o *outcome) error {
	after := consent.StatusOf(o.w.sa, o.contact)
	last := o.before
	if n := len(o.change.Consent); n > 0 {
		last = o.change.Consent[n-1].After
	}
	if after != last {
		if err := s.recordConsent(o, last, after, "", i18n.NilLanguage, store.SourceFlow); err != nil {
			return err
		}
	}
	o.change.Outbox = append(o.change.Outbox, o.replies...)
	return nil
}

func (s *Service) recordConsent(o *outcome, before, after consent.Status, keyword string, language i18n.Language, source store.Source) error {
	ce := &store.ConsentEvent{
		ContactUUID: o.contact.UUID(),
		URN:         contactURN(o.contact),
		Before:      before,
		After:       after,
		Keyword:     keyword,
		Language:    language,
		MsgUUID:     o.msgUUID,
		Channel:     o.channel,
		Source:      source,
		OccurredOn:  s.now().UTC(),
	}
	o.change.Consent = append(o.change.Consent, ce)

	// an import moves a list the business already has: notifying it of every row would only echo it back; and the
	// business is told of opt-outs and opt-ins, not of a flow clearing the status back to undefined
	if source == store.SourceImport || after == consent.Undefined {
		return nil
	}
	event, err := webhook.NewEvent(o.w.Workspace, ce, ce.OccurredOn)
	if err != nil {
		return err
	}
	o.change.Webhooks = append(o.change.Webhooks, event)
	return nil
}

// committed wakes the webhook worker for a change the store committed.
func (s *Service) committed(ctx context.Context, o *outcome) {
	if len(o.change.Webhooks) > 0 {
		s.nudge()
	}
}

// contactURN is the URN a contact is stored by: its first, without channel or display.
func contactURN(contact *flows.Contact) urns.URN {
	if len(contact.URNs()) == 0 {
		return urns.NilURN
	}
	return contact.URNs()[0].Identity()
}

func templateName(msg *flows.MsgOut) string {
	if t := msg.Templating(); t != nil && t.Template != nil {
		return t.Template.Name
	}
	return ""
}
