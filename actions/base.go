// Package actions holds the plugin's goflow action types: opt_out and opt_in. Flow designers drop them into any
// messaging flow; the plugin's system flow runs them when the interceptor catches a keyword.
package actions

import (
	"context"
	"fmt"
	"slices"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/internal/inputtext"
	"github.com/optout-dev/optout/keywords"
)

var registeredTypes = map[string]func() flows.Action{}

func registerType(name string, initFunc func() flows.Action) {
	registeredTypes[name] = initFunc
}

// RegisteredTypes returns the plugin's action types by name, for registering with goflow.
func RegisteredTypes() map[string]func() flows.Action {
	return registeredTypes
}

// consentChange is what opt_out and opt_in share: the same change in opposite directions. goflow's own base action
// is unexported, so the flows.Action methods are implemented here.
type consentChange struct {
	Type_ string           `json:"type" validate:"required"`
	UUID_ flows.ActionUUID `json:"uuid" validate:"required,uuid"`
}

func (a *consentChange) Type() string                 { return a.Type_ }
func (a *consentChange) UUID() flows.ActionUUID       { return a.UUID_ }
func (a *consentChange) LocalizationUUID() uuids.UUID { return uuids.UUID(a.UUID_) }
func (a *consentChange) Validate() error              { return nil }
func (a *consentChange) AllowedFlowTypes() []flows.FlowType {
	// a reply needs a conversation, so not background or voice flows
	return []flows.FlowType{flows.FlowTypeMessaging, flows.FlowTypeMessagingOffline}
}

func (a *consentChange) Inspect(dependency func(assets.Reference), local func(string), result func(*flows.ResultInfo)) {
	dependency(consent.StatusFieldRef)
	dependency(consent.ChangedOnFieldRef)
}

// execute moves the contact to the status of the intent. The consent event is logged only when the status really
// changes, so that repeating a keyword notifies nobody, and only for a host that handles it; the reply is sent either
// way: the contact asked and gets an answer.
func (a *consentChange) execute(ctx context.Context, run flows.Run, intent keywords.Intent, log flows.EventLogger) error {
	s := run.Session()
	cfg := config.For(s.Assets())
	keyword, lang := matchInput(run, cfg.Keywords, intent)
	target := consent.StatusFor(intent)

	previous, err := consent.Apply(ctx, s.Engine(), s.MergedEnvironment(), s.Assets(), run.Contact(), target, log)
	if err != nil {
		return err
	}

	if previous != target && consent.HostHandlesChanged(s.Assets()) {
		var msgUUID flows.InputUUID
		var channel *assets.ChannelReference
		if input := s.Input(); input != nil {
			msgUUID = input.UUID()
			if input.Channel() != nil {
				channel = input.Channel().Reference()
			}
		}
		log(consent.NewChanged(intent, previous, keyword, lang, msgUUID, channel))
	}

	if text, ok := cfg.Reply(intent, lang); ok {
		return sendReply(ctx, run, text, lang, log)
	}
	return nil
}

// matchInput finds the keyword the contact said and the language to answer in. The action may also follow a
// button or any other input that is not a keyword of its intent: then there is no keyword, and the answer is in the
// contact's language when the workspace speaks it, else in the workspace's default language.
func matchInput(run flows.Run, catalog *keywords.Catalog, intent keywords.Intent) (string, i18n.Language) {
	contactLang := run.Contact().Language()

	if text, ok := inputtext.Of(run.Session()); ok {
		if m := catalog.Match(text, contactLang); m.Intent == intent {
			return m.Keyword, m.Language
		}
	}

	if slices.Contains(catalog.Languages(), contactLang) {
		return "", contactLang
	}
	return "", catalog.DefaultLanguage()
}

// sendReply creates the reply as goflow's send_msg action would, so that hosts deliver it like any flow message:
// one message per route of the contact, or one without a route for the host to deal with.
func sendReply(ctx context.Context, run flows.Run, text string, lang i18n.Language, log flows.EventLogger) error {
	s := run.Session()
	contact := run.Contact()
	content := &flows.MsgContent{Text: text}

	var unsendable flows.UnsendableReason
	switch contact.Status() {
	case flows.ContactStatusBlocked:
		unsendable = flows.UnsendableReasonContactBlocked
	case flows.ContactStatusStopped:
		unsendable = flows.UnsendableReasonContactStopped
	case flows.ContactStatusArchived:
		unsendable = flows.UnsendableReasonContactArchived
	default:
		var err error
		if unsendable, err = s.Engine().Options().CheckSendable(ctx, s.Assets(), contact, content); err != nil {
			return fmt.Errorf("error checking if message is sendable: %w", err)
		}
	}

	locale := i18n.NewLocale(lang, s.MergedEnvironment().DefaultCountry())
	routes := contact.ResolveRoutes(false)
	for _, route := range routes {
		channel := assets.NewChannelReference(route.Channel.UUID(), route.Channel.Name())
		log(events.NewMsgCreated(flows.NewMsgOut(route.URN, channel, content, nil, locale, unsendable), "", ""))
	}
	if len(routes) == 0 {
		log(events.NewMsgCreated(flows.NewMsgOut(urns.NilURN, nil, content, nil, locale, flows.UnsendableReasonNoRoute), "", ""))
	}
	return nil
}
