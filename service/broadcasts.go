package service

import (
	"context"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/internal/sanitize"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/whatsapp"
)

// BatchSize is how many recipients a broadcast decides at a time: one query reads them and one transaction records
// them, so a broadcast to a million contacts holds a thousand in memory, never a million.
const BatchSize = 1000

// PageSize is how many of anything a listing returns at once by default.
const PageSize = 100

// MaxBroadcastText bounds a broadcast's free text as WhatsApp bounds a text message.
const MaxBroadcastText = 4096

// BroadcastRequest is the body of a broadcast: to a list of URNs or to a group, a template or free text.
type BroadcastRequest struct {
	URNs     []string         `json:"urns,omitempty"`
	Group    string           `json:"group,omitempty"`
	Template *TemplateRequest `json:"template,omitempty"`
	Text     string           `json:"text,omitempty"`
	DryRun   bool             `json:"dry_run,omitempty"`
}

// TemplateRequest names a template, with its category when the workspace's templates map doesn't have it, and what
// WhatsApp needs to send it: its language, and the values of its variables.
type TemplateRequest struct {
	Name     string `json:"name"`
	Category string `json:"category,omitempty"`

	Language   string               `json:"language,omitempty"`   // Meta's code, such as pt_BR; else the workspace's default language's
	Components []whatsapp.Component `json:"components,omitempty"` // as the Cloud API's messages endpoint takes them
}

// BroadcastView is a broadcast's outcome, with a page of its recipients.
type BroadcastView struct {
	ID         string           `json:"id"`
	DryRun     bool             `json:"dry_run"`
	Sent       int              `json:"sent"`
	Skipped    map[string]int   `json:"skipped"`
	Total      int              `json:"total"`
	Recipients []*RecipientView `json:"recipients"`
	Next       string           `json:"next,omitempty"` // the cursor of the next page of recipients
	CreatedOn  time.Time        `json:"created_on"`
	FinishedOn *time.Time       `json:"finished_on,omitempty"`
}

// RecipientView is the decision for one recipient.
type RecipientView struct {
	URN      urns.URN `json:"urn"`
	Decision string   `json:"decision"`
	Reason   string   `json:"reason,omitempty"`
}

// broadcast is a checked BroadcastRequest.
type broadcast struct {
	urns      []urns.URN
	groupName string
	group     *flows.Group // found by name in the workspace
	msg       engine.Message
	text      string
	dryRun    bool

	language   string          // of the template, for WhatsApp
	components json.RawMessage // of the template, for WhatsApp
}

// checkBroadcast checks a BroadcastRequest, all but whether its group exists.
func checkBroadcast(req *BroadcastRequest) (*broadcast, error) {
	b := &broadcast{text: req.Text, dryRun: req.DryRun, msg: engine.Message{Origin: engine.OriginBroadcast}}

	switch {
	case len(req.URNs) > 0 && req.Group != "":
		return nil, newError(Unprocessable, "urns", "give urns or group, not both")
	case req.Group != "":
		if err := sanitize.Check(req.Group); err != nil {
			return nil, &Error{Kind: Unprocessable, Field: "group", Err: err}
		}
		b.groupName = req.Group
	case len(req.URNs) > 0:
		var err error
		if b.urns, err = checkURNs(req.URNs, 0); err != nil {
			return nil, err
		}
	default:
		return nil, newError(Unprocessable, "urns", "give urns or group")
	}

	switch {
	case req.Template != nil && req.Text != "":
		return nil, newError(Unprocessable, "text", "give template or text, not both")
	case req.Template != nil:
		if req.Template.Name == "" {
			return nil, newError(Unprocessable, "template.name", "is required")
		}
		if err := sanitize.Check(req.Template.Name); err != nil {
			return nil, &Error{Kind: Unprocessable, Field: "template.name", Err: err}
		}
		if req.Template.Category != "" {
			if _, err := config.ParseCategory(req.Template.Category); err != nil {
				return nil, &Error{Kind: Unprocessable, Field: "template.category", Err: err}
			}
		}
		var err error
		if b.language, b.components, err = checkTemplate(req.Template); err != nil {
			return nil, err
		}
		b.msg = engine.Message{Origin: engine.OriginBroadcast, Template: req.Template.Name, Category: req.Template.Category}
	case req.Text != "":
		if utf8.RuneCountInString(req.Text) > MaxBroadcastText {
			return nil, newError(Unprocessable, "text", "is longer than %d characters", MaxBroadcastText)
		}
		if err := sanitize.Check(req.Text); err != nil {
			return nil, &Error{Kind: Unprocessable, Field: "text", Err: err}
		}
	default:
		return nil, newError(Unprocessable, "text", "give template or text")
	}
	return b, nil
}

// Broadcast decides, recipient by recipient and in batches, whether the message may go, and queues it for those it
// may go to unless it's a dry run.
func (s *Service) Broadcast(ctx context.Context, workspaceID string, request *BroadcastRequest) (*BroadcastView, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	req, err := checkBroadcast(request)
	if err != nil {
		return nil, err
	}
	if req.groupName != "" {
		if req.group = w.sa.Groups().FindByName(req.groupName); req.group == nil {
			return nil, newError(Unprocessable, "group", "no group named %s", quote.Q(req.groupName))
		}
	}

	started := time.Now()
	b := &store.Broadcast{
		ID:        string(flows.NewEventUUID()),
		Workspace: w.ID,
		Request:   jsonx.MustMarshal(request),
		DryRun:    req.dryRun,
		CreatedOn: s.now().UTC(),
		Skipped:   map[string]int{},
	}
	if b.DryRun {
		summary := *request
		summary.URNs = nil
		b.Request = jsonx.MustMarshal(&summary)
		v, err := s.dryRun(ctx, w, b, req)
		s.logBroadcast(w, v, started, err)
		return v, err
	}
	if err := s.store.CreateBroadcast(ctx, b); err != nil {
		return nil, storeError(err)
	}
	msg := &store.OutgoingMsg{Workspace: w.ID, Channel: w.channel.UUID(), Text: req.text, Template: req.msg.Template, Source: string(engine.OriginBroadcast),
		BroadcastID: b.ID, Category: req.msg.Category, Language: req.language, Components: req.components}
	err = s.eachBatch(ctx, w, req, func(batch []store.Recipient) error {
		msg.CreatedOn = s.now().UTC()
		if err := s.store.AddBroadcastBatch(ctx, b.ID, s.decide(w, b, req, batch), msg); err != nil {
			return storeError(err)
		}
		s.outboxWake.ring()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.store.FinishBroadcast(ctx, b.ID, s.now().UTC()); err != nil {
		return nil, storeError(err)
	}
	v, err := s.GetBroadcast(ctx, w.ID, b.ID, 0, PageSize)
	s.logBroadcast(w, v, started, err)
	return v, err
}

// logBroadcast writes the one line a broadcast logs, with its counts.
func (s *Service) logBroadcast(w *workspace, v *BroadcastView, started time.Time, err error) {
	if err != nil {
		return // the API logs the request's error
	}
	s.log.Info("broadcast", "workspace", w.ID, "broadcast", v.ID, "dry_run", v.DryRun, "total", v.Total, "sent", v.Sent,
		"skipped_opted_out", v.Skipped[string(engine.ReasonOptedOut)], "skipped_window_closed", v.Skipped[string(engine.ReasonWindowClosed)],
		"elapsed_ms", time.Since(started).Milliseconds())
}

// dryRun decides a broadcast and keeps only its summary, without its recipients or its request's URNs: a dry run
// is a question, and storing its answer for every recipient let one token write hundreds of megabytes. The answer
// carries the first page of recipients.
func (s *Service) dryRun(ctx context.Context, w *workspace, b *store.Broadcast, req *broadcast) (*BroadcastView, error) {
	var first []*store.BroadcastRecipient
	err := s.eachBatch(ctx, w, req, func(batch []store.Recipient) error {
		decisions := s.decide(w, b, req, batch)
		for _, d := range decisions {
			if d.Reason == "" { // sent
				b.Sent++
			} else {
				b.Skipped[d.Reason]++
			}
		}
		b.Recipients += len(decisions)
		first = append(first, decisions[:min(len(decisions), PageSize-len(first))]...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.FinishedOn = s.now().UTC()
	if err := s.store.CreateBroadcast(ctx, b); err != nil {
		return nil, storeError(err)
	}
	return broadcastView(b, first, 0), nil
}

// eachBatch reads the broadcast's recipients a batch at a time, and gives each batch to fn.
func (s *Service) eachBatch(ctx context.Context, w *workspace, req *broadcast, fn func([]store.Recipient) error) error {
	next := s.recipients(w, req)
	for {
		batch, err := next(ctx)
		if err != nil {
			return storeError(err)
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
}

// recipients returns a function that reads the next batch of recipients, empty when there are no more.
func (s *Service) recipients(w *workspace, req *broadcast) func(context.Context) ([]store.Recipient, error) {
	if req.group != nil {
		var after int64
		return func(ctx context.Context) ([]store.Recipient, error) {
			batch, err := s.store.GroupRecipients(ctx, w.ID, req.group.UUID(), after, BatchSize)
			if err != nil || len(batch) == 0 {
				return nil, err
			}
			after = batch[len(batch)-1].ID
			return batch, nil
		}
	}

	remaining := req.urns
	return func(ctx context.Context) ([]store.Recipient, error) {
		urnz := remaining[:min(BatchSize, len(remaining))]
		remaining = remaining[len(urnz):]
		if len(urnz) == 0 {
			return nil, nil
		}
		contacts, err := s.store.ContactsByURN(ctx, w.ID, urnz)
		if err != nil {
			return nil, err
		}
		byURN := make(map[urns.URN]*store.Contact, len(contacts))
		for _, c := range contacts {
			byURN[c.URN] = c
		}
		batch := make([]store.Recipient, len(urnz))
		for i, urn := range urnz {
			batch[i].URN = urn
			if c := byURN[urn]; c != nil {
				batch[i] = store.Recipient{ID: c.ID, UUID: c.UUID, URN: urn, OptStatus: c.OptStatus, LastInboundOn: c.LastInboundOn}
			}
		}
		return batch, nil
	}
}

// decide decides a batch of recipients. A dry run's decisions aren't counted in the metrics: nothing was sent.
func (s *Service) decide(w *workspace, b *store.Broadcast, req *broadcast, batch []store.Recipient) []*store.BroadcastRecipient {
	now := s.now().UTC()
	decisions := make([]*store.BroadcastRecipient, len(batch))
	for i := range batch {
		r := &batch[i]
		d := engine.Decide(w.cfg, r.OptStatus, r.LastInboundOn, now, req.msg)
		decisions[i] = &store.BroadcastRecipient{URN: r.URN, Decision: decisionName(d), Reason: string(d.Reason), ContactUUID: r.UUID}
		if !b.DryRun {
			s.decisions.Inc(string(req.msg.Origin), decisionName(d), string(d.Reason))
		}
	}
	return decisions
}

// GetBroadcast returns a broadcast with a page of its recipients after the cursor.
func (s *Service) GetBroadcast(ctx context.Context, workspaceID, id string, after int64, limit int) (*BroadcastView, error) {
	b, err := s.store.GetBroadcast(ctx, workspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newError(NotFound, "", "no broadcast %s", quote.Q(id))
	} else if err != nil {
		return nil, storeError(err)
	}
	recipients, err := s.store.BroadcastRecipients(ctx, id, after, limit)
	if err != nil {
		return nil, storeError(err)
	}

	return broadcastView(b, recipients, limit), nil
}

// broadcastView shows a broadcast with a page of its recipients, and the cursor of the next page when the page is
// full and limit isn't 0.
func broadcastView(b *store.Broadcast, recipients []*store.BroadcastRecipient, limit int) *BroadcastView {
	v := &BroadcastView{
		ID:         b.ID,
		DryRun:     b.DryRun,
		Sent:       b.Sent,
		Skipped:    map[string]int{string(engine.ReasonOptedOut): 0, string(engine.ReasonWindowClosed): 0},
		Total:      b.Recipients,
		Recipients: make([]*RecipientView, len(recipients)),
		CreatedOn:  b.CreatedOn,
	}
	for reason, n := range b.Skipped {
		v.Skipped[reason] = n
	}
	if !b.FinishedOn.IsZero() {
		v.FinishedOn = &b.FinishedOn
	}
	for i, r := range recipients {
		v.Recipients[i] = &RecipientView{URN: r.URN, Decision: r.Decision, Reason: r.Reason}
	}
	if limit > 0 {
		v.Next = nextCursor(len(recipients), limit, func() int64 { return recipients[len(recipients)-1].Seq })
	}
	return v
}

// decisionTally counts decisions, for the one log line a piece of bulk work writes.
type decisionTally struct {
	sent    int
	skipped map[engine.Reason]int
}

func (t *decisionTally) add(d engine.Decision) {
	if d.Send {
		t.sent++
		return
	}
	if t.skipped == nil {
		t.skipped = map[engine.Reason]int{}
	}
	t.skipped[d.Reason]++
}

func (t *decisionTally) total() int {
	n := t.sent
	for _, k := range t.skipped {
		n += k
	}
	return n
}

func (t *decisionTally) attrs() []any {
	return []any{"sent", t.sent, "skipped_opted_out", t.skipped[engine.ReasonOptedOut], "skipped_window_closed", t.skipped[engine.ReasonWindowClosed]}
}

func decisionName(d engine.Decision) string {
	if d.Send {
		return "send"
	}
	return "skip"
}
