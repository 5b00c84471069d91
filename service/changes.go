package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

// contactChange collects what one piece of work (a message, a consent change asked through the API, a campaign event
// firing, a row of an import) does to one contact, so that all of it is committed as one store.Change or none of it
// is. Every piece of work goes the same way: load the contact, begin, change it (run a flow, set its consent), then
// commit, which records what the work did and tells whoever waits for it.
type contactChange struct {
	w           *workspace
	contact     *flows.Contact
	lastInbound time.Time      // when the contact last wrote, which opens WhatsApp's window
	before      consent.Status // the contact's status before the work
	origin      engine.Origin  // of the messages the work sends
	channel     assets.ChannelUUID
	msgUUID     flows.InputUUID // of the message that caused the work, if one did

	change store.Change
}

// loadContact reads the contact with the URN, or creates one with the name if the workspace doesn't know the URN, with
// when it last wrote. It is the one way a piece of work gets its contact.
func (s *Service) loadContact(ctx context.Context, w *workspace, urn urns.URN, name string) (*flows.Contact, time.Time, error) {
	rec, err := s.store.ContactByURN(ctx, w.ID, urn)
	if errors.Is(err, store.ErrNotFound) {
		rec = nil
	} else if err != nil {
		return nil, time.Time{}, storeError(err)
	}
	return s.contactOf(w, rec, urn, name)
}

// loadForMessage is loadContact for work that must be done once however often it is asked for: a message, or a
// request with a UUID of its own. It reads, in the same query, the answer the work was given if it was done already,
// and then there is no contact to work on.
func (s *Service) loadForMessage(ctx context.Context, w *workspace, urn urns.URN, name string, msg flows.InputUUID) (*flows.Contact, time.Time, json.RawMessage, error) {
	rec, answer, err := s.store.MessageContact(ctx, w.ID, urn, msg)
	if err != nil {
		return nil, time.Time{}, nil, storeError(err)
	}
	if answer != nil {
		return nil, time.Time{}, answer, nil
	}
	contact, lastInbound, err := s.contactOf(w, rec, urn, name)
	return contact, lastInbound, nil, err
}

// contactOf reads a stored contact into goflow, or creates one for the URN when rec is nil, for work that read its
// contacts in bulk.
func (s *Service) contactOf(w *workspace, rec *store.Contact, urn urns.URN, name string) (*flows.Contact, time.Time, error) {
	if rec == nil {
		contact, err := flows.NewContact(w.sa, flows.NewContactUUID(), 0, name, i18n.NilLanguage, flows.ContactStatusActive, nil,
			s.now().UTC(), nil, []urns.URN{urn}, nil, nil, nil, assets.IgnoreMissing)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("creating contact %s: %w", urn, err)
		}
		return contact, time.Time{}, nil
	}
	contact, err := flows.ReadContact(w.sa, rec.Data, assets.IgnoreMissing)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading contact %s: %w", rec.URN, err)
	}
	return contact, rec.LastInboundOn, nil
}

// begin starts the work on a contact, which sends its messages on the workspace's channel unless it came in on
// another.
func (s *Service) begin(w *workspace, contact *flows.Contact, lastInbound time.Time, origin engine.Origin) *contactChange {
	return &contactChange{
		w:           w,
		contact:     contact,
		lastInbound: lastInbound,
		before:      consent.StatusOf(w.sa, contact),
		origin:      origin,
		channel:     w.channel.UUID(),
		change:      store.Change{Workspace: w.ID},
	}
}

// addEvents takes in the events of a sprint: each message it created is decided, as the work's origin says, and
// queued if it may go; each consent change becomes an audit row and a webhook event. A change the plugin's actions
// made carries their consent_changed event; one a flow made by setting the status field itself is found by comparing
// the status afterwards, when the change is committed.
func (s *Service) addEvents(c *contactChange, evts []flows.Event, source store.Source) error {
	for _, e := range evts {
		switch e := e.(type) {
		case *events.MsgCreated:
			s.queue(c, e.Msg.URN().Identity(), e.Msg.Text(), templateName(e.Msg), e.CreatedOn())
		case *consent.Changed:
			if err := s.recordConsent(c, e.PreviousStatus, e.Status, e.Keyword, e.Language, source); err != nil {
				return err
			}
		}
	}
	return nil
}

// queue puts a message for the contact in the outbox, if the send decision lets it go.
func (s *Service) queue(c *contactChange, urn urns.URN, text, template string, createdOn time.Time) {
	msg := engine.Message{Origin: c.origin, Template: template}
	d := engine.Decide(c.w.cfg, consent.StatusOf(c.w.sa, c.contact), c.lastInbound, s.now(), msg)
	s.decisions.Inc(string(c.origin), decisionName(d), string(d.Reason))
	if !d.Send {
		return
	}
	c.change.Outbox = append(c.change.Outbox, &store.OutgoingMsg{
		Workspace:   c.w.ID,
		ContactUUID: c.contact.UUID(),
		URN:         urn,
		Channel:     c.channel,
		Text:        text,
		Template:    template,
		Source:      string(c.origin),
		CreatedOn:   createdOn,
	})
}

// setConsent moves the contact to the status at a request from outside a flow (the API, an import), as a keyword
// would but without the reply: the fields and the group, the audit row, the webhook, and an opt-out ends the contact's
// waiting session. It returns whether the status changed.
func (s *Service) setConsent(ctx context.Context, c *contactChange, target consent.Status, source store.Source, keyword string, language i18n.Language) (bool, error) {
	previous, err := consent.Apply(ctx, s.eng, c.w.env, c.w.sa, c.contact, target, func(flows.Event) {})
	if err != nil || previous == target {
		return false, err
	}
	if target == consent.OptedOut {
		c.endSession()
	}
	return true, s.recordConsent(c, previous, target, keyword, language, source)
}

// endSession ends the contact's waiting session: no flow goes on talking to a contact who left.
func (c *contactChange) endSession() {
	c.change.EndSessions = append(c.change.EndSessions, c.contact.UUID())
}

func (s *Service) recordConsent(c *contactChange, before, after consent.Status, keyword string, language i18n.Language, source store.Source) error {
	ce := &store.ConsentEvent{
		ContactUUID: c.contact.UUID(),
		URN:         contactURN(c.contact),
		Before:      before,
		After:       after,
		Keyword:     keyword,
		Language:    language,
		MsgUUID:     c.msgUUID,
		Channel:     c.channel,
		Source:      source,
		// to the microsecond, as the store keeps it, so that the webhook and the audit log date a change alike
		OccurredOn: s.now().UTC().Truncate(time.Microsecond),
	}
	c.change.Consent = append(c.change.Consent, ce)

	// an import moves a list the business already has: notifying it of every row would only echo it back; the
	// business is told of opt-outs and opt-ins, not of a flow clearing the status back to undefined; and a workspace
	// without a webhook URL has no one to tell (the audit log keeps the change)
	if source == store.SourceImport || after == consent.Undefined || c.w.WebhookURL == "" {
		return nil
	}
	event, err := webhook.NewEvent(c.w.Workspace, ce, ce.OccurredOn)
	if err != nil {
		return err
	}
	c.change.Webhooks = append(c.change.Webhooks, event)
	return nil
}

// settle completes the change with what the work left implicit: a consent change that no consent_changed event
// accounted for, which a flow made by setting the status field itself, and the contact as it is now.
func (s *Service) settle(c *contactChange) error {
	after := consent.StatusOf(c.w.sa, c.contact)
	last := c.before
	if n := len(c.change.Consent); n > 0 {
		last = c.change.Consent[n-1].After
	}
	if after != last {
		if err := s.recordConsent(c, last, after, "", i18n.NilLanguage, store.SourceFlow); err != nil {
			return err
		}
	}
	record, err := c.w.record(c.contact, c.lastInbound)
	if err != nil {
		return err
	}
	c.change.Contacts = append(c.change.Contacts, record)
	return nil
}

// commit settles the change and writes it in one transaction. It returns an error wrapping store.ErrConflict when
// the change's message or campaign fire was already recorded, by another instance that got there first.
func (s *Service) commit(ctx context.Context, c *contactChange) error {
	if err := s.settle(c); err != nil {
		return err
	}
	return s.write(ctx, &c.change)
}

// write commits a change to the store, dated by the service's clock, and wakes the webhook worker for the events it
// holds.
func (s *Service) write(ctx context.Context, change *store.Change) error {
	change.At = s.now()
	if err := s.store.Commit(ctx, change); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return err
		}
		return storeError(err)
	}
	if len(change.Webhooks) > 0 {
		s.nudge()
	}
	if len(change.Outbox) > 0 {
		s.outboxWake.ring()
	}
	return nil
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

// forEachContact reads the stored contacts of the items' URNs a batch at a time, with one query a batch, and calls fn
// with each item and its contact, nil for a URN the workspace doesn't know. progress, when not nil, is called with
// the items done after each batch. It is how bulk work (imports, group membership) walks its contacts.
func forEachContact[T any](ctx context.Context, s *Service, w *workspace, items []T, urnOf func(T) urns.URN, fn func(T, *store.Contact) error, progress func(int)) error {
	for start := 0; start < len(items); start += BatchSize {
		batch := items[start:min(start+BatchSize, len(items))]
		keys := make([]urns.URN, len(batch))
		for i, item := range batch {
			keys[i] = urnOf(item)
		}
		existing, err := s.store.ContactsByURN(ctx, w.ID, keys)
		if err != nil {
			return storeError(err)
		}
		byURN := make(map[urns.URN]*store.Contact, len(existing))
		for _, c := range existing {
			byURN[c.URN] = c
		}
		for i, item := range batch {
			if err := fn(item, byURN[keys[i]]); err != nil {
				return err
			}
		}
		if progress != nil {
			progress(start + len(batch))
		}
	}
	return nil
}
