package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/triggers"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/store"
)

// CampaignLookback is how late a campaign event may still fire: a service that was down for less catches up, while
// a date set far in the past doesn't fire events that were due long ago.
const CampaignLookback = 24 * time.Hour

// RunCampaigns fires due campaign events every CampaignInterval until ctx is done.
func (s *Service) RunCampaigns(ctx context.Context) {
	ticker := time.NewTicker(s.campaignInterval)
	defer ticker.Stop()
	for {
		if err := s.FireCampaigns(ctx, s.now()); err != nil && ctx.Err() == nil {
			s.log.Error("firing campaign events", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// FireCampaigns fires the campaign events that are due at now for the members of their campaigns' groups, through
// the same decision as broadcasts: a member who opted out gets nothing but templates of the allowed categories.
// Each event fires at most once per contact, whichever instance gets there first.
func (s *Service) FireCampaigns(ctx context.Context, now time.Time) error {
	ids, err := s.store.ListWorkspaces(ctx)
	if err != nil {
		return storeError(err)
	}
	var errs []error
	for _, id := range ids {
		w, err := s.workspace(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range w.campaigns {
			for _, e := range c.Events {
				if err := s.fireEvent(ctx, w, c, e, now); err != nil {
					errs = append(errs, fmt.Errorf("workspace %s, campaign event %s: %w", id, e.UUID, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// fireEvent streams the campaign's group in batches and fires the event for each member it is due for.
// It logs one line with what it decided, when it fired for anyone.
func (s *Service) fireEvent(ctx context.Context, w *workspace, c *export.Campaign, e *export.CampaignEvent, now time.Time) error {
	started := time.Now()
	tally := &decisionTally{}
	defer func() {
		if tally.total() > 0 {
			s.log.Info("fired campaign event", append([]any{"workspace", w.ID, "campaign", c.UUID, "event", e.UUID, "elapsed_ms", time.Since(started).Milliseconds()}, tally.attrs()...)...)
		}
	}()
	for after := int64(0); ; {
		members, err := s.store.GroupContacts(ctx, w.ID, c.Group.UUID, after, BatchSize)
		if err != nil || len(members) == 0 {
			return storeError(err)
		}
		after = members[len(members)-1].ID

		uuids := make([]flows.ContactUUID, len(members))
		for i, m := range members {
			uuids[i] = m.UUID
		}
		fired, err := s.store.CampaignFired(ctx, w.ID, e.UUID, uuids)
		if err != nil {
			return storeError(err)
		}

		for _, m := range members {
			if fired[m.UUID] {
				continue
			}
			contact, _, err := s.contactOf(w, m, m.URN, "")
			if err != nil {
				return err
			}
			if due, ok := dueTime(w, contact, e); ok && !due.After(now) && now.Sub(due) <= CampaignLookback {
				d, fired, err := s.fire(ctx, w, c, e, m, now)
				if err != nil {
					return err
				}
				if fired {
					tally.add(d)
				}
			}
		}
	}
}

// dueTime is when the event is due for the contact, and false when the date it is relative to isn't set.
func dueTime(w *workspace, contact *flows.Contact, e *export.CampaignEvent) (time.Time, bool) {
	var base time.Time
	switch e.RelativeTo.Key {
	case "created_on":
		base = contact.CreatedOn()
	case "last_seen_on":
		if contact.LastSeenOn() == nil {
			return time.Time{}, false
		}
		base = *contact.LastSeenOn()
	default:
		field := w.sa.Fields().Get(e.RelativeTo.Key)
		if field == nil {
			return time.Time{}, false
		}
		v := contact.Fields().Get(field)
		if v == nil || v.Datetime == nil {
			return time.Time{}, false
		}
		base = v.Datetime.Native()
	}

	// offsets in days and weeks are calendar days where the workspace is, and a delivery hour is its local hour, so
	// that "the day after, at 9:00" is 9:00 there whatever daylight saving time did in between
	local := base.In(w.cfg.Environment.Timezone)
	var due time.Time
	switch e.Unit {
	case export.OffsetMinute:
		due = local.Add(time.Duration(e.Offset) * time.Minute)
	case export.OffsetHour:
		due = local.Add(time.Duration(e.Offset) * time.Hour)
	case export.OffsetDay:
		due = local.AddDate(0, 0, e.Offset)
	case export.OffsetWeek:
		due = local.AddDate(0, 0, 7*e.Offset)
	}
	if e.DeliveryHour != export.NoDeliveryHour {
		due = time.Date(due.Year(), due.Month(), due.Day(), e.DeliveryHour, 0, 0, 0, due.Location())
	}
	return due, true
}

// fire fires the event for one contact under its lock, re-reading it so that nothing it said meanwhile is lost.
func (s *Service) fire(ctx context.Context, w *workspace, c *export.Campaign, e *export.CampaignEvent, member *store.Contact, now time.Time) (engine.Decision, bool, error) {
	unlock, err := s.cluster.LockContact(ctx, w.ID, member.URN)
	if err != nil {
		return engine.Decision{}, false, storeError(err)
	}
	defer unlock()

	contact, lastInbound, err := s.loadContact(ctx, w, member.URN, "")
	if err != nil {
		return engine.Decision{}, false, err
	}
	d := engine.Decide(w.cfg, consent.StatusOf(w.sa, contact), lastInbound, now, campaignMessage(w, e))
	cc := s.begin(w, contact, lastInbound, engine.OriginCampaign)
	cc.change.CampaignFire = &store.CampaignFire{Event: e.UUID, ContactUUID: contact.UUID(), Decision: decisionName(d), Reason: string(d.Reason), FiredOn: now.UTC()}

	if d.Send {
		if err := s.runEvent(ctx, w, c, e, cc); err != nil {
			return d, false, err
		}
	}
	if err := s.commit(ctx, cc); errors.Is(err, store.ErrConflict) {
		return d, false, nil // another instance fired it first
	} else if err != nil {
		return d, false, err
	}
	s.decisions.Inc(string(engine.OriginCampaign), decisionName(d), string(d.Reason))
	return d, true, nil
}

// runEvent sends the event's message, or starts its flow as its start mode says.
func (s *Service) runEvent(ctx context.Context, w *workspace, c *export.Campaign, e *export.CampaignEvent, cc *contactChange) error {
	if e.Type == export.EventTypeMessage {
		text := e.Message[cc.contact.Language()]
		if text == "" {
			text = e.Message[e.BaseLanguage]
		}
		s.queue(cc, contactURN(cc.contact), text, "", s.now().UTC())
		return nil
	}

	_, err := s.store.WaitingSession(ctx, w.ID, cc.contact.UUID())
	inFlow := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeError(err)
	}
	if inFlow && e.StartMode == export.StartModeSkip {
		return nil
	}

	campaign := w.sa.Campaigns().Get(c.UUID)
	if campaign == nil {
		return fmt.Errorf("no campaign %s in the workspace's assets", c.UUID)
	}
	trigger := triggers.NewBuilder(e.Flow).CampaignFired(events.NewCampaignFired(campaign, e.UUID), campaign).Build()
	session, sprint, err := s.eng.NewSession(ctx, w.sa, w.env, cc.contact, trigger, nil)
	if err != nil {
		return fmt.Errorf("starting %s: %w", e.Flow, err)
	}
	if err := s.addEvents(cc, sprint.Events(), store.SourceFlow); err != nil {
		return err
	}
	if inFlow && e.StartMode == export.StartModePassive {
		return nil // a passive start leaves the contact in the flow it was in
	}
	return cc.keepSession(session, sprint)
}

// campaignMessage is what the event sends, for the decision: its message's free text, or what its flow sends.
func campaignMessage(w *workspace, e *export.CampaignEvent) engine.Message {
	if e.Type == export.EventTypeFlow {
		if flow, err := w.sa.Flows().Get(e.Flow.UUID); err == nil {
			return engine.FlowMessage(flow, engine.OriginCampaign)
		}
	}
	return engine.Message{Origin: engine.OriginCampaign}
}
