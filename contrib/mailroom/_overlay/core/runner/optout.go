package runner

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nyaruka/gocommon/dates"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/triggers"
	"github.com/nyaruka/mailroom/v26/core/models"
	"github.com/nyaruka/mailroom/v26/runtime"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
)

// CatchKeyword is the opt-out plugin's interceptor: the msg_received task calls it before the contact's waiting
// session and the org's triggers see the message. On an opt-out or opt-in keyword it starts the org's opt-out flow
// for the contact, as an ordinary session, and says the message is taken.
func (s *Scene) CatchKeyword(ctx context.Context, rt *runtime.Runtime, oa *models.OrgAssets, msg *events.MsgReceived) (bool, error) {
	settings, err := oa.Optout()
	if err != nil {
		return false, err
	}
	if settings.Flow == nil {
		return false, nil
	}

	kw, err := engine.MatchKeyword(oa.SessionAssets(), s.Contact, msg, settings.Flow.Reference())
	if err != nil {
		return false, fmt.Errorf("error matching opt-out keywords for contact %s: %w", s.ContactUUID(), err)
	}
	if kw.Trigger == nil {
		return false, nil
	}

	// a keyword ends the contact's waiting session: an opt-out must, and as mailroom keeps one waiting session per
	// contact, a messaging session started beside it would leave it orphaned, so an opt-in does too, as any keyword
	// trigger of a messaging flow does
	if err := s.StartSession(ctx, rt, oa, kw.Trigger, true); err != nil {
		return false, fmt.Errorf("error starting opt-out flow for contact %s: %w", s.ContactUUID(), err)
	}
	return true, nil
}

// decideBroadcast returns the scenes whose contacts may get the broadcast, by the plugin's decision. A campaign event's
// message is a broadcast here too, as bulk_campaign_trigger sends it with BroadcastWithLock, and the decision treats
// the two alike: the business writes first.
func decideBroadcast(oa *models.OrgAssets, b *models.Broadcast, scenes []*Scene) ([]*Scene, error) {
	msg := engine.Message{Origin: engine.OriginBroadcast}
	if b.TemplateID != models.NilTemplateID {
		if t := oa.TemplateByID(b.TemplateID); t != nil {
			msg.Template = t.Name()
		}
	}
	return decideScenes(oa, msg, scenes)
}

// decideStart returns the scenes whose contacts a campaign event may start its flow for, by the plugin's decision on
// what the flow sends. Other starts are the business's choice of contacts and are left as they are.
func decideStart(oa *models.OrgAssets, triggerBuilder TriggerBuilder, scenes []*Scene) ([]*Scene, error) {
	trigger := triggerBuilder()
	if trigger.Type() != triggers.TypeCampaign {
		return scenes, nil
	}
	msg := engine.Message{Origin: engine.OriginCampaign}
	if flow, err := oa.SessionAssets().Flows().Get(trigger.Flow().UUID); err == nil {
		msg = engine.FlowMessage(flow, engine.OriginCampaign)
	}
	return decideScenes(oa, msg, scenes)
}

func decideScenes(oa *models.OrgAssets, msg engine.Message, scenes []*Scene) ([]*Scene, error) {
	settings, err := oa.Optout()
	if err != nil {
		return nil, err
	}
	if settings.Flow == nil {
		return scenes, nil
	}

	now := dates.Now()
	kept := make([]*Scene, 0, len(scenes))
	skipped := make(map[engine.Reason]int, 2)
	for _, s := range scenes {
		if d := s.optoutDecision(oa, settings, msg, now); d.Send {
			kept = append(kept, s)
		} else {
			skipped[d.Reason]++
		}
	}
	if len(skipped) > 0 {
		slog.Info("opt-out: skipped recipients", "org", oa.OrgID(), "origin", msg.Origin, "template", msg.Template,
			"opted_out", skipped[engine.ReasonOptedOut], "window_closed", skipped[engine.ReasonWindowClosed])
	}
	return kept, nil
}

// optoutDecision decides whether the contact may get the message. WhatsApp's 24 hours since the contact's last
// message, which mailroom keeps as its last seen time, apply to WhatsApp: on other channels free text goes whenever
// mailroom would send it, and only opted-out contacts are left out.
func (s *Scene) optoutDecision(oa *models.OrgAssets, settings *models.OptoutSettings, msg engine.Message, now time.Time) engine.Decision {
	var lastSeen time.Time
	if on := s.Contact.LastSeenOn(); on != nil {
		lastSeen = *on
	}
	d := engine.Decide(settings.Config, consent.StatusOf(oa.SessionAssets(), s.Contact), lastSeen, now, msg)
	if d.Reason == engine.ReasonWindowClosed && !onWhatsApp(s.Contact) {
		return engine.Decision{Send: true}
	}
	return d
}

func onWhatsApp(c *flows.Contact) bool {
	u := c.PreferredURN()
	return u != nil && u.Identity().Scheme() == urns.WhatsApp.Prefix
}
