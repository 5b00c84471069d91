package service

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/store"
)

// Contact returns the contact with the URN, with its fields and last inbound time.
func (s *Service) Contact(ctx context.Context, workspaceID string, rawURN string) (*ContactView, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	urn, err := parseURN(rawURN)
	if err != nil {
		return nil, &Error{Kind: Invalid, Field: "urn", Err: err}
	}
	rec, err := s.store.ContactByURN(ctx, w.ID, urn)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newError(NotFound, "", "no contact with URN %s", urn)
	} else if err != nil {
		return nil, storeError(err)
	}
	contact, lastInbound, err := s.contactOf(w, rec, urn, "")
	if err != nil {
		return nil, err
	}
	return w.view(contact, lastInbound, true), nil
}

// ConsentEventView is a row of the audit log as the API shows it.
type ConsentEventView struct {
	ID         int64              `json:"id"`
	Contact    flows.ContactUUID  `json:"contact_uuid"`
	URN        urns.URN           `json:"urn"`
	Before     string             `json:"before"` // "undefined" for a contact who never said
	After      string             `json:"after"`
	Keyword    string             `json:"keyword"`
	MsgUUID    flows.InputUUID    `json:"msg_uuid"`
	Language   string             `json:"language"`
	Channel    assets.ChannelUUID `json:"channel"`
	Source     store.Source       `json:"source"`
	OccurredOn time.Time          `json:"occurred_on"`
}

// ConsentEvents returns a page of the workspace's consent audit log, of one contact when urn isn't empty.
func (s *Service) ConsentEvents(ctx context.Context, workspaceID string, rawURN string, after int64, limit int) ([]*ConsentEventView, string, error) {
	var urn urns.URN
	if rawURN != "" {
		var err error
		if urn, err = parseURN(rawURN); err != nil {
			return nil, "", &Error{Kind: Invalid, Field: "contact", Err: err}
		}
	}
	return listPage(s, ctx, workspaceID, limit,
		func() ([]*store.ConsentEvent, error) {
			return s.store.ConsentEvents(ctx, workspaceID, urn, after, limit)
		},
		func(e *store.ConsentEvent) *ConsentEventView {
			return &ConsentEventView{
				ID: e.ID, Contact: e.ContactUUID, URN: e.URN, Before: statusName(e.Before), After: statusName(e.After), Keyword: e.Keyword,
				MsgUUID: e.MsgUUID, Language: string(e.Language), Channel: e.Channel, Source: e.Source, OccurredOn: e.OccurredOn,
			}
		},
		func(e *store.ConsentEvent) int64 { return e.ID })
}

func statusName(s consent.Status) string {
	if s == consent.Undefined {
		return "undefined"
	}
	return string(s)
}

// WebhookEventView is a webhook event as the API shows it, with its delivery attempts when shown by itself.
type WebhookEventView struct {
	ID          string              `json:"id"`
	Seq         int64               `json:"seq"`
	Contact     flows.ContactUUID   `json:"contact_uuid"`
	Status      store.WebhookStatus `json:"status"`
	Attempts    int                 `json:"attempts"`
	NextAttempt *time.Time          `json:"next_attempt,omitempty"`
	CreatedOn   time.Time           `json:"created_on"`
	DeliveredOn *time.Time          `json:"delivered_on,omitempty"`
	LastError   string              `json:"last_error,omitempty"`
	Body        rawBody             `json:"body"`
	Log         []*AttemptView      `json:"log,omitempty"`
}

// AttemptView is one delivery attempt.
type AttemptView struct {
	Number     int       `json:"number"`
	StartedOn  time.Time `json:"started_on"`
	DurationMS int64     `json:"duration_ms"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// rawBody is the webhook body as it was posted.
type rawBody []byte

func (b rawBody) MarshalJSON() ([]byte, error) { return b, nil }

func webhookView(e *store.WebhookEvent) *WebhookEventView {
	v := &WebhookEventView{ID: e.ID, Seq: e.Seq, Contact: e.ContactUUID, Status: e.Status, Attempts: e.Attempts, CreatedOn: e.CreatedOn, LastError: e.LastError, Body: rawBody(e.Body)}
	if e.Status == store.WebhookPending {
		v.NextAttempt = &e.NextAttempt
	}
	if !e.DeliveredOn.IsZero() {
		v.DeliveredOn = &e.DeliveredOn
	}
	return v
}

// WebhookEvents returns a page of the workspace's webhook events, of one status when status isn't empty.
func (s *Service) WebhookEvents(ctx context.Context, workspaceID string, status string, after int64, limit int) ([]*WebhookEventView, string, error) {
	switch store.WebhookStatus(status) {
	case "", store.WebhookPending, store.WebhookDelivered, store.WebhookFailed:
	default:
		return nil, "", newError(Invalid, "status", "%s is not pending, delivered or failed", quote.Q(status))
	}
	return listPage(s, ctx, workspaceID, limit,
		func() ([]*store.WebhookEvent, error) {
			return s.store.WebhookEvents(ctx, workspaceID, store.WebhookStatus(status), after, limit)
		},
		webhookView,
		func(e *store.WebhookEvent) int64 { return e.Seq })
}

// WebhookEvent returns a webhook event with its delivery log.
func (s *Service) WebhookEvent(ctx context.Context, workspaceID string, id string) (*WebhookEventView, error) {
	if _, err := s.workspace(ctx, workspaceID); err != nil {
		return nil, err
	}
	e, attempts, err := s.store.WebhookEvent(ctx, workspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newError(NotFound, "", "no webhook event %s", quote.Q(id))
	} else if err != nil {
		return nil, storeError(err)
	}
	v := webhookView(e)
	v.Log = make([]*AttemptView, len(attempts))
	for i, a := range attempts {
		v.Log[i] = &AttemptView{Number: a.Number, StartedOn: a.StartedOn, DurationMS: a.Duration.Milliseconds(), StatusCode: a.StatusCode, Error: a.Error}
	}
	return v, nil
}

// OutboxView is a message queued to send.
type OutboxView struct {
	ID          int64              `json:"id"`
	Contact     flows.ContactUUID  `json:"contact_uuid,omitempty"`
	URN         urns.URN           `json:"urn"`
	Channel     assets.ChannelUUID `json:"channel"`
	Text        string             `json:"text,omitempty"`
	Template    string             `json:"template,omitempty"`
	Source      string             `json:"source"`
	BroadcastID string             `json:"broadcast_id,omitempty"`
	CreatedOn   time.Time          `json:"created_on"`

	// where it is on its way: unsent in a workspace without a WhatsApp connection, else queued, then accepted by
	// the Cloud API (WAMID is Meta's ID of it), sent, delivered and read, or skipped or failed (Reason says why)
	Status    store.OutboxStatus `json:"status"`
	Reason    string             `json:"reason,omitempty"`
	WAMID     string             `json:"wamid,omitempty"`
	Attempts  int                `json:"attempts"`
	Error     string             `json:"error,omitempty"`
	UpdatedOn *time.Time         `json:"updated_on,omitempty"`
}

// Outbox returns a page of the workspace's queued messages.
func (s *Service) Outbox(ctx context.Context, workspaceID string, after int64, limit int) ([]*OutboxView, string, error) {
	return listPage(s, ctx, workspaceID, limit,
		func() ([]*store.OutgoingMsg, error) { return s.store.Outbox(ctx, workspaceID, after, limit) },
		func(m *store.OutgoingMsg) *OutboxView {
			v := &OutboxView{ID: m.ID, Contact: m.ContactUUID, URN: m.URN, Channel: m.Channel, Text: m.Text, Template: m.Template,
				Source: m.Source, BroadcastID: m.BroadcastID, CreatedOn: m.CreatedOn,
				Status: m.Status, Reason: m.Reason, WAMID: m.WAMID, Attempts: m.Attempts, Error: m.LastError}
			if !m.UpdatedOn.IsZero() {
				v.UpdatedOn = &m.UpdatedOn
			}
			return v
		},
		func(m *store.OutgoingMsg) int64 { return m.ID })
}

// listPage reads a page of a workspace's rows with read and shows each with view, returning the cursor of the next
// page, made of the last row's ID.
func listPage[R, V any](s *Service, ctx context.Context, workspaceID string, limit int, read func() ([]R, error), view func(R) V, id func(R) int64) ([]V, string, error) {
	if _, err := s.workspace(ctx, workspaceID); err != nil {
		return nil, "", err
	}
	rows, err := read()
	if err != nil {
		return nil, "", storeError(err)
	}
	views := make([]V, len(rows))
	for i, r := range rows {
		views[i] = view(r)
	}
	return views, nextCursor(len(rows), limit, func() int64 { return id(rows[len(rows)-1]) }), nil
}

// nextCursor is the cursor of the page after a full one, and empty after a short one, which is the last.
func nextCursor(n, limit int, last func() int64) string {
	if n < limit || n == 0 {
		return ""
	}
	return strconv.FormatInt(last(), 10)
}
