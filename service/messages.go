package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/resumes"
	"github.com/nyaruka/goflow/flows/triggers"

	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/identity"
	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/internal/sanitize"
	"github.com/optout-dev/optout/keywords"
	"github.com/optout-dev/optout/store"
)

// MessageRequest is an incoming message as the API receives it.
type MessageRequest struct {
	UUID       string `json:"uuid"`
	URN        string `json:"urn"`
	Text       string `json:"text"`
	Channel    string `json:"channel,omitempty"`
	Name       string `json:"name,omitempty"`
	ReceivedOn string `json:"received_on,omitempty"`
}

// MessageResult is what the service did with a message.
type MessageResult struct {
	Intent   keywords.Intent `json:"intent"`
	Language string          `json:"language"`
	Handled  bool            `json:"handled"` // whether the interceptor took it, so that no flow saw it
	Replies  []*Reply        `json:"replies"`
	Contact  *ContactView    `json:"contact"`
}

// Reply is a message the service queued in answer.
type Reply struct {
	Text     string   `json:"text"`
	URN      urns.URN `json:"urn"`
	Template string   `json:"template,omitempty"`
}

// MaxTextLength bounds an incoming message's text, well above WhatsApp's 4096 characters.
const MaxTextLength = 10000

// MaxNameLength bounds a contact's or a workspace's name, as RapidPro bounds a contact's.
const MaxNameLength = 128

var uuidRegex = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// incoming is a checked MessageRequest.
type incoming struct {
	uuid       flows.InputUUID
	urn        urns.URN
	text       string
	channel    assets.ChannelUUID
	name       string
	receivedOn time.Time
	source     store.Source // of a keyword: a keyword typed, or a button tapped
}

// checkMessage checks a MessageRequest, received now unless it says when. Its channel is empty when it names none.
func checkMessage(req *MessageRequest, now time.Time) (*incoming, error) {
	// what a contact's phone sends is cleaned rather than refused: refusing it would keep that contact from opting out
	m := &incoming{uuid: flows.InputUUID(req.UUID), text: sanitize.Text(req.Text), name: sanitize.Name(req.Name), receivedOn: now, source: store.SourceKeyword}

	if !uuidRegex.MatchString(req.UUID) {
		return nil, newError(Unprocessable, "uuid", "%s is not a UUID", quote.Q(req.UUID))
	}
	urn, err := parseURN(req.URN)
	if err != nil {
		return nil, &Error{Kind: Unprocessable, Field: "urn", Err: err}
	}
	m.urn = urn
	if utf8.RuneCountInString(m.text) > MaxTextLength {
		return nil, newError(Unprocessable, "text", "is longer than %d characters", MaxTextLength)
	}
	if utf8.RuneCountInString(m.name) > MaxNameLength {
		return nil, newError(Unprocessable, "name", "is longer than %d characters", MaxNameLength)
	}
	if req.Channel != "" {
		if !uuidRegex.MatchString(req.Channel) {
			return nil, newError(Unprocessable, "channel", "%s is not a UUID", quote.Q(req.Channel))
		}
		m.channel = assets.ChannelUUID(req.Channel)
	}
	if req.ReceivedOn != "" {
		if m.receivedOn, err = time.Parse(time.RFC3339Nano, req.ReceivedOn); err != nil {
			return nil, newError(Unprocessable, "received_on", "%s is not an RFC 3339 time", quote.Q(req.ReceivedOn))
		}
		m.receivedOn = m.receivedOn.UTC()
	}
	return m, nil
}

// parseURN reads a URN as given by a client as the key the store keeps its contact by, so that every spelling of
// one person's number is one contact with one consent.
func parseURN(s string) (urns.URN, error) {
	if s == "" {
		return urns.NilURN, errors.New("is required")
	}
	return identity.Key(s)
}

// HandleMessage handles an incoming message. The interceptor sees it first; a message it doesn't take resumes the
// contact's waiting session or starts a flow from a trigger. All the message changes is committed at once, with the
// result, and the same message UUID again gets that result back and changes nothing.
func (s *Service) HandleMessage(ctx context.Context, workspaceID string, req *MessageRequest) (*MessageResult, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	m, err := checkMessage(req, s.now().UTC())
	if err != nil {
		return nil, err
	}
	return s.handleMessage(ctx, w, m)
}

// handleMessage handles a checked message, from the API or from WhatsApp.
func (s *Service) handleMessage(ctx context.Context, w *workspace, m *incoming) (*MessageResult, error) {
	if m.channel == "" {
		m.channel = w.channel.UUID()
	}

	unlock, err := s.cluster.LockContact(ctx, w.ID, m.urn)
	if err != nil {
		return nil, storeError(fmt.Errorf("locking contact: %w", err))
	}
	defer unlock()

	contact, lastInbound, answer, err := s.loadForMessage(ctx, w, m.urn, m.name, m.uuid)
	if err != nil {
		return nil, err
	} else if answer != nil {
		return readResult(answer)
	}

	c, result, err := s.handle(ctx, w, m, contact, lastInbound)
	if err != nil {
		return nil, err
	}
	response := jsonx.MustMarshal(result)
	c.change.Message = &store.ProcessedMessage{UUID: m.uuid, Response: response}

	if err := s.commit(ctx, c); errors.Is(err, store.ErrConflict) {
		// processed meanwhile by an instance that held the lock when ours had expired: its answer stands
		response, err = s.store.ProcessedMessage(ctx, w.ID, m.uuid)
		if err != nil {
			return nil, storeError(err)
		}
		return readResult(response)
	} else if err != nil {
		return nil, err
	}

	s.messages.Inc(string(result.Intent))
	return result, nil
}

// readResult reads the result a processed message was answered with, as it was stored with the message.
func readResult(response []byte) (*MessageResult, error) {
	result := &MessageResult{}
	if err := json.Unmarshal(response, result); err != nil {
		return nil, fmt.Errorf("reading a processed message's result: %w", err)
	}
	return result, nil
}

// handle works out everything the message changes for its contact, without writing any of it.
func (s *Service) handle(ctx context.Context, w *workspace, m *incoming, contact *flows.Contact, lastInbound time.Time) (*contactChange, *MessageResult, error) {
	if contact.Name() == "" && m.name != "" {
		contact.SetName(m.name)
	}
	contact.SetLastSeenOn(m.receivedOn)
	if m.receivedOn.After(lastInbound) {
		lastInbound = m.receivedOn // a message delivered late doesn't move the window back
	}

	c := s.begin(w, contact, lastInbound, engine.OriginReply)
	c.channel, c.msgUUID = m.channel, m.uuid
	msg := events.NewMsgReceived(flows.NewMsgIn(m.urn, w.channel.Reference(), m.text, nil, ""), "")
	msg.UUID_ = flows.EventUUID(m.uuid) // so that the input, and the consent event, carry the message's UUID
	msg.CreatedOn_ = m.receivedOn

	res, err := s.interceptor.Intercept(ctx, w.sa, w.env, contact, msg)
	if err != nil {
		return nil, nil, fmt.Errorf("intercepting message: %w", err)
	}

	if res.Handled() {
		if err := s.addEvents(c, res.Events, m.source); err != nil {
			return nil, nil, err
		}
		if res.Match.Intent == keywords.OptOut {
			c.endSession()
		}
	} else if err := s.runFlows(ctx, w, c, msg); err != nil {
		return nil, nil, err
	}

	result := &MessageResult{
		Intent:   res.Match.Intent,
		Language: string(res.Match.Language),
		Handled:  res.Handled(),
		Replies:  make([]*Reply, len(c.change.Outbox)),
		Contact:  w.view(contact, lastInbound, false),
	}
	for i, r := range c.change.Outbox {
		result.Replies[i] = &Reply{Text: r.Text, URN: r.URN, Template: r.Template}
	}
	return c, result, nil
}

// runFlows gives a message the interceptor didn't take to the contact's waiting session, or starts the flow of the
// trigger it matches.
func (s *Service) runFlows(ctx context.Context, w *workspace, c *contactChange, msg *events.MsgReceived) error {
	var session flows.Session
	var sprint flows.Sprint

	waiting, err := s.store.WaitingSession(ctx, w.ID, c.contact.UUID())
	switch {
	case err == nil && (waiting.ExpiresOn.IsZero() || waiting.ExpiresOn.After(s.now())):
		if session, err = s.eng.ReadSession(w.sa, waiting.Data, w.env, c.contact, nil, assets.IgnoreMissing); err != nil {
			return fmt.Errorf("reading session %s: %w", waiting.UUID, err)
		}
		if sprint, err = session.Resume(ctx, resumes.NewMsg(msg)); err != nil {
			return fmt.Errorf("resuming session %s: %w", waiting.UUID, err)
		}
	case err == nil || errors.Is(err, store.ErrNotFound):
		if err == nil {
			c.endSession() // expired
		}
		trigger, match := w.matchTrigger(msg.Msg.Text(), c.contact, c.channel)
		if trigger == nil {
			return nil
		}
		tb := triggers.NewBuilder(trigger.Flow).MsgReceived(msg)
		if match != nil {
			tb = tb.WithMatch(match)
		}
		if session, sprint, err = s.eng.NewSession(ctx, w.sa, w.env, c.contact, tb.Build(), nil); err != nil {
			return fmt.Errorf("starting %s: %w", trigger.Flow, err)
		}
	default:
		return storeError(err)
	}

	if err := s.addEvents(c, sprint.Events(), store.SourceFlow); err != nil {
		return err
	}
	return c.keepSession(session, sprint)
}

// keepSession stores a session that waits for the contact, and ends the contact's waiting session otherwise.
func (c *contactChange) keepSession(session flows.Session, sprint flows.Sprint) error {
	if session.Status() != flows.SessionStatusWaiting {
		c.endSession()
		return nil
	}
	data, err := jsonx.Marshal(session)
	if err != nil {
		return err
	}
	c.change.Session = &store.Session{UUID: session.UUID(), ContactUUID: c.contact.UUID(), Data: data}
	for _, e := range sprint.Events() {
		if wait, ok := e.(*events.MsgWait); ok {
			c.change.Session.ExpiresOn = wait.ExpiresOn
		}
	}
	return nil
}
