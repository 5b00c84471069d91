package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/internal/sanitize"
	"github.com/optout-dev/optout/keywords"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/whatsapp"
)

// ErrSignature is a webhook notification that can't be Meta's for the workspace: its signature isn't the app
// secret's, or the workspace has no WhatsApp connection to check it with.
var ErrSignature = errors.New("the X-Hub-Signature-256 is not this workspace's app secret's")

// ErrHandshake is a subscription check whose verify token isn't the workspace's.
var ErrHandshake = errors.New("the verify token is not this workspace's")

// The kinds of events the inbox keeps.
const (
	inboxMessage    = "message"
	inboxStatus     = "status"
	inboxPreference = "preference"
)

// WhatsAppHandshake answers Meta's subscription check of the workspace's callback URL with its challenge.
func (s *Service) WhatsAppHandshake(ctx context.Context, workspaceID string, query url.Values) (string, error) {
	w, err := s.workspace(ctx, workspaceID)
	if KindOf(err) == NotFound {
		return "", ErrHandshake
	} else if err != nil {
		return "", err
	}
	if w.whatsapp == nil {
		return "", ErrHandshake
	}
	challenge, ok := whatsapp.Handshake(query, w.whatsapp.VerifyToken)
	if !ok {
		return "", ErrHandshake
	}
	return challenge, nil
}

// ReceiveWhatsApp keeps what a webhook notification from Meta brings, once its signature is checked, and wakes the
// worker that acts on it: Meta retries a notification that isn't answered quickly, so nothing is acted on before the
// answer, and a notification kept is never lost. What Meta delivers again is kept once. It returns how many events
// were new.
func (s *Service) ReceiveWhatsApp(ctx context.Context, workspaceID string, body []byte, signature string) (int, error) {
	w, err := s.workspace(ctx, workspaceID)
	if KindOf(err) == NotFound {
		return 0, ErrSignature // no more said to whoever isn't Meta than to a bad signature
	} else if err != nil {
		return 0, err
	}
	if w.whatsapp == nil || !whatsapp.VerifySignature(body, signature, w.whatsapp.AppSecret) {
		return 0, ErrSignature
	}
	n, err := whatsapp.ParseNotification(body)
	if err != nil {
		return 0, &Error{Kind: Invalid, Err: err}
	}

	items, changes, err := s.inboxOf(w, n)
	if err != nil {
		return 0, err
	}
	added, err := s.store.ReceiveWhatsApp(ctx, w.ID, items, changes)
	if err != nil {
		return 0, storeError(err)
	}
	if added > 0 {
		s.inboxWake.ring()
	}
	return added, nil
}

// inboxOf makes the inbox items and template changes of a notification, leaving out what is for another phone number
// or account than the workspace's, as a WhatsApp Business Account's webhooks may be.
func (s *Service) inboxOf(w *workspace, n *whatsapp.Notification) ([]*store.InboxItem, []*store.TemplateChange, error) {
	now := s.now().UTC()
	phone := w.whatsapp.PhoneNumberID
	var items []*store.InboxItem
	add := func(kind, key, contact, phoneID string, event any) error {
		if phoneID != phone {
			s.log.Warn("WhatsApp event for another phone number ignored", "workspace", w.ID, "kind", kind, "phone_number_id", phoneID)
			return nil
		}
		payload, err := json.Marshal(event)
		if err != nil {
			return err
		}
		items = append(items, &store.InboxItem{Kind: kind, Key: key, Contact: contact, Payload: payload, Received: now})
		return nil
	}

	for _, m := range n.Messages {
		if err := add(inboxMessage, m.ID, cmp.Or(m.From, m.FromUserID), m.PhoneNumberID, m); err != nil {
			return nil, nil, err
		}
	}
	for _, st := range n.Statuses {
		if err := add(inboxStatus, st.ID+":"+st.Status, cmp.Or(st.RecipientID, st.RecipientUserID), st.PhoneNumberID, st); err != nil {
			return nil, nil, err
		}
	}
	for _, p := range n.Preferences {
		user := cmp.Or(p.WAID, p.UserID)
		key := user + ":" + p.Value + ":" + strconv.FormatInt(p.Timestamp.Unix(), 10)
		if err := add(inboxPreference, key, user, p.PhoneNumberID, p); err != nil {
			return nil, nil, err
		}
	}

	var changes []*store.TemplateChange
	for _, u := range n.CategoryUpdates {
		if c := s.templateChange(w, u, now); c != nil {
			changes = append(changes, c)
		}
	}
	for _, e := range n.Errors {
		s.log.Error("WhatsApp reported an error for the account", "workspace", w.ID, "code", e.Code, "title", e.Title, "details", e.Details)
	}
	for field, count := range n.Ignored {
		s.log.Debug("WhatsApp webhook field ignored", "workspace", w.ID, "field", field, "changes", count)
	}
	return items, changes, nil
}

// actOn acts on an inbox item and records the attempt: an item that fails is tried again after a backoff, and
// given up on after maxInboxAttempts.
func (s *Service) actOn(ctx context.Context, it *store.InboxItem) {
	err := s.act(ctx, it)
	now := s.now().UTC()
	log := s.log.With("workspace", it.Workspace, "kind", it.Kind, "key", it.Key, "attempt", it.Attempts+1)
	var retry time.Time
	switch {
	case err == nil:
	case it.Attempts+1 < maxInboxAttempts:
		retry = now.Add(inboxBackoff(it.Attempts + 1))
		log.Warn("acting on a WhatsApp event failed, retrying", "error", err, "next", retry)
	default:
		log.Error("acting on a WhatsApp event failed for good", "error", err)
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	// a failure to record leaves the item leased until the lease runs out, and it is acted on again, which changes
	// nothing that was done
	if err := s.store.FinishInbox(ctx, it.ID, now, msg, retry); err != nil {
		log.Error("recording a WhatsApp event failed", "error", err)
	}
}

func (s *Service) act(ctx context.Context, it *store.InboxItem) error {
	w, err := s.workspace(ctx, it.Workspace)
	if err != nil {
		return err
	}
	switch it.Kind {
	case inboxMessage:
		m := &whatsapp.Message{}
		if err := json.Unmarshal(it.Payload, m); err != nil {
			return err
		}
		return s.receiveMessage(ctx, w, m)
	case inboxStatus:
		st := &whatsapp.Status{}
		if err := json.Unmarshal(it.Payload, st); err != nil {
			return err
		}
		return s.receiveStatus(ctx, w, st, it.Key)
	case inboxPreference:
		p := &whatsapp.Preference{}
		if err := json.Unmarshal(it.Payload, p); err != nil {
			return err
		}
		return s.receivePreference(ctx, w, p, it.Key)
	}
	return fmt.Errorf("no such kind of WhatsApp event %q", it.Kind)
}

// receiveMessage handles a message from WhatsApp as one from the API: the interceptor, then the contact's flows. A
// button is a keyword when its payload is, else when its label is, and then its source is button; what isn't text
// (media, a location...) still opens the window and resumes the contact's flow, with no text.
func (s *Service) receiveMessage(ctx context.Context, w *workspace, m *whatsapp.Message) error {
	if m.From == "" {
		s.log.Warn("WhatsApp message from a user known only by a business-scoped ID ignored", "workspace", w.ID, "wamid", m.ID)
		return nil
	}
	text, source := m.Text, store.SourceKeyword
	switch m.Kind {
	case whatsapp.KindButton, whatsapp.KindButtonReply, whatsapp.KindListReply:
		source = store.SourceButton
		if w.cfg.Keywords.Match(m.Payload, i18n.NilLanguage).Intent != keywords.None {
			text = m.Payload
		}
	}
	req := &MessageRequest{
		UUID:       wamidUUID(w.ID, m.ID),
		URN:        "whatsapp:" + m.From,
		Text:       text,
		Name:       truncate(sanitize.Name(m.Name), MaxNameLength),
		ReceivedOn: m.Timestamp.Format(time.RFC3339Nano),
	}
	in, err := checkMessage(req, s.now().UTC())
	if err != nil {
		return err
	}
	in.source = source
	_, err = s.handleMessage(ctx, w, in)
	return err
}

// wamidUUID is the UUID a WhatsApp message is handled under, so that it is handled once whoever receives it.
func wamidUUID(workspace, wamid string) string {
	return nameUUID("optout whatsapp message\x00" + workspace + "\x00" + wamid)
}

func truncate(s string, runes int) string {
	if utf8.RuneCountInString(s) <= runes {
		return s
	}
	return string([]rune(s)[:runes])
}

// callbackPrefix starts the biz_opaque_callback_data the sender gives each message: its outbox ID follows.
const callbackPrefix = "optout:"

// receiveStatus applies a status webhook to the message it is about, found by wamid or by the outbox ID the sender
// gave Meta. A status of a message the service didn't send is someone else's, and ignored.
func (s *Service) receiveStatus(ctx context.Context, w *workspace, st *whatsapp.Status, key string) error {
	id, _ := strconv.ParseInt(strings.TrimPrefix(st.CallbackData, callbackPrefix), 10, 64)
	msg, err := s.store.FindOutgoing(ctx, w.ID, st.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return storeError(err)
	}

	switch st.Status {
	case whatsapp.StatusSent, whatsapp.StatusDelivered, whatsapp.StatusRead:
		to := store.OutboxStatus(st.Status)
		_, err := s.store.UpdateOutgoing(ctx, &store.OutgoingUpdate{
			ID: msg.ID, From: before(to), WAMIDWas: st.ID, Status: to, WAMID: st.ID, At: s.now().UTC(),
		})
		return storeError(err)
	case whatsapp.StatusFailed:
		detail := "failed"
		if len(st.Errors) > 0 {
			e := st.Errors[0]
			detail = strings.TrimSpace(fmt.Sprintf("error %d: %s %s", e.Code, e.Title, e.Details))
		}
		return s.failed(ctx, w, msg, st.Code(), detail, st.ID, key)
	}
	return nil // played, and whatever Meta adds
}

// progress is the order of the statuses a message goes through: it never goes back.
var progress = []store.OutboxStatus{store.OutboxQueued, store.OutboxAccepted, store.OutboxSent, store.OutboxDelivered, store.OutboxRead}

// before returns the statuses a message can move to status from.
func before(status store.OutboxStatus) []store.OutboxStatus {
	for i, s := range progress {
		if s == status {
			return progress[:i]
		}
	}
	return nil
}

// The reasons a message fails, besides the send decision's.
const (
	ReasonMarketingStopped = "marketing_stopped" // 131050: the user stopped the business's marketing messages
	ReasonUndeliverable    = "undeliverable"     // 131026
	ReasonMarketingLimit   = "marketing_limit"   // 131049, still after maxDeferrals days of waiting
	ReasonRefused          = "refused"           // any other error of Meta's for the message; the error says which
	ReasonExpired          = "expired"           // still failing to reach Meta sendExpiry after it was queued
	ReasonNotWhatsApp      = "not_whatsapp"      // the contact has no WhatsApp number
)

// maxDeferrals is how many times a message Meta's per-user marketing limit refused is put off, each time twice as
// long, from MarketingLimitDelay: 1, 2 and 4 days.
const maxDeferrals = 3

// failed applies a failure Meta reported for a message, in its answer to the send (wamid empty) or in a status webhook
// (key is then the inbox item's): 131049 puts the message off, as Meta asks; 131050 fails it and opts the contact out,
// as the user did in WhatsApp; 131047 fails it and closes the contact's window, which was closed in fact; anything
// else fails it.
func (s *Service) failed(ctx context.Context, w *workspace, msg *store.OutgoingMsg, code whatsapp.Code, detail, wamid, key string) error {
	now := s.now().UTC()
	live := before(store.OutboxRead)
	u := &store.OutgoingUpdate{ID: msg.ID, From: live, WAMIDWas: wamid, Status: store.OutboxFailed, Error: detail, At: now}
	switch {
	case code.MarketingLimit() && msg.Deferrals < maxDeferrals:
		u.Status, u.Deferred = store.OutboxQueued, true
		u.NextAttempt = now.Add(whatsapp.MarketingLimitDelay << msg.Deferrals)
	case code.MarketingLimit():
		u.Reason = ReasonMarketingLimit
	case code.MarketingOptOut():
		u.Reason = ReasonMarketingStopped
	case code.WindowClosed():
		u.Reason = string(engine.ReasonWindowClosed)
	case code.Undeliverable():
		u.Reason = ReasonUndeliverable
	default:
		u.Reason = ReasonRefused
	}
	if _, err := s.store.UpdateOutgoing(ctx, u); err != nil {
		return storeError(err)
	}

	if key == "" {
		key = fmt.Sprintf("outbox:%d", msg.ID)
	}
	switch {
	case code.MarketingOptOut():
		return s.signal(ctx, w, string(msg.URN), "", consent.OptedOut, store.SourceWhatsAppMarketingStop, key)
	case code.WindowClosed():
		return s.closeWindow(ctx, w, msg, now)
	}
	return nil
}

// receivePreference applies a user stopping or resuming the business's marketing messages in WhatsApp: an opt-out or
// an opt-in, with no reply, since the user chose in WhatsApp itself.
func (s *Service) receivePreference(ctx context.Context, w *workspace, p *whatsapp.Preference, key string) error {
	var target consent.Status
	switch {
	case p.Category != whatsapp.PreferenceMarketing:
		return nil
	case p.Value == whatsapp.PreferenceStop:
		target = consent.OptedOut
	case p.Value == whatsapp.PreferenceResume:
		target = consent.OptedIn
	default:
		return nil
	}
	if p.WAID == "" {
		s.log.Warn("WhatsApp preference of a user known only by a business-scoped ID ignored", "workspace", w.ID, "value", p.Value)
		return nil
	}
	return s.signal(ctx, w, "whatsapp:"+p.WAID, truncate(sanitize.Name(p.Name), MaxNameLength), target, store.SourceWhatsAppUserPreferences, key)
}

// signal changes a contact's consent on a signal of Meta's, as the consent endpoint would but once per signal: key
// identifies it, and a signal acted on already changes nothing. The contact is created if the workspace doesn't know
// it, so that its choice holds for what the business sends later.
func (s *Service) signal(ctx context.Context, w *workspace, rawURN, name string, target consent.Status, source store.Source, key string) error {
	urn, err := parseURN(rawURN)
	if err != nil {
		return err
	}
	processed := flows.InputUUID("whatsapp:" + key) // apart from messages' own UUIDs, as the consent endpoint's
	unlock, err := s.cluster.LockContact(ctx, w.ID, urn)
	if err != nil {
		return storeError(err)
	}
	defer unlock()
	contact, lastInbound, answer, err := s.loadForMessage(ctx, w, urn, name, processed)
	if err != nil || answer != nil {
		return err
	}
	c := s.begin(w, contact, lastInbound, engine.OriginReply)
	if _, err := s.setConsent(ctx, c, target, source, "", i18n.NilLanguage); err != nil {
		return err
	}
	c.change.Message = &store.ProcessedMessage{UUID: processed}
	if err := s.commit(ctx, c); err != nil && !errors.Is(err, store.ErrConflict) {
		return err
	}
	return nil
}

// closeWindow corrects the window of the contact a message failed to reach because Meta found it closed: the service
// thought it open, as the contact's last message may have come through another way.
func (s *Service) closeWindow(ctx context.Context, w *workspace, msg *store.OutgoingMsg, now time.Time) error {
	unlock, err := s.cluster.LockContact(ctx, w.ID, msg.URN)
	if err != nil {
		return storeError(err)
	}
	defer unlock()
	rec, err := s.store.ContactByURN(ctx, w.ID, msg.URN)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return storeError(err)
	}
	closed := now.Add(-engine.ServiceWindow)
	if !rec.LastInboundOn.After(closed) {
		return nil
	}
	contact, _, err := s.contactOf(w, rec, msg.URN, "")
	if err != nil {
		return err
	}
	return s.commit(ctx, s.begin(w, contact, closed, engine.OriginReply))
}

// templateChange is the row of the templates log of a category update, or nil for an update to a category the rules
// don't know, which is logged and left out, or for another account's template.
func (s *Service) templateChange(w *workspace, u *whatsapp.CategoryUpdate, now time.Time) *store.TemplateChange {
	if w.whatsapp.WABAID != "" && u.WABAID != w.whatsapp.WABAID {
		s.log.Warn("WhatsApp template change for another account ignored", "workspace", w.ID, "waba_id", u.WABAID, "template", u.TemplateName)
		return nil
	}
	if _, err := config.ParseCategory(u.Category()); err != nil {
		s.log.Warn("WhatsApp template change to an unknown category ignored", "workspace", w.ID, "template", u.TemplateName, "error", err)
		return nil
	}
	c := &store.TemplateChange{
		TemplateID: u.TemplateID, Template: u.TemplateName, Language: u.Language, PreviousCategory: u.PreviousCategory,
		Category: u.Category(), Announced: u.Announced(), EffectiveOn: now, ReceivedOn: now,
	}
	sent := u.Time
	if u.Announced() {
		c.PreviousCategory, c.EffectiveOn, sent = u.NewCategory, u.EffectiveAt, u.EffectiveAt
	}
	c.Key = strings.Join([]string{u.TemplateID, u.Language, c.PreviousCategory, c.Category, strconv.FormatInt(sent.Unix(), 10)}, ":")
	return c
}
