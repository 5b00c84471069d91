package graphtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/optout-dev/optout/whatsapp"
)

// Account is the WhatsApp Business Account and business phone number notifications come for.
type Account struct {
	WABAID             string
	PhoneNumberID      string
	DisplayPhoneNumber string
}

// Event is something Meta notifies: Text, Button, ButtonReply, ListReply, Other, Status, Preference or
// CategoryUpdate.
type Event interface {
	change(a Account) change
}

type change struct {
	Field string `json:"field"`
	Value any    `json:"value"`
}

type entry struct {
	ID      string   `json:"id"`
	Time    int64    `json:"time,omitempty"`
	Changes []change `json:"changes"`
}

// Notification returns the body of a webhook POST that notifies events: one entry for the account with a change per
// event, except that each CategoryUpdate comes in an entry of its own with the time it was sent, as Meta sends them.
func (a Account) Notification(events ...Event) []byte {
	main := entry{ID: a.WABAID}
	var entries []entry
	for _, e := range events {
		if u, ok := e.(CategoryUpdate); ok {
			entries = append(entries, entry{ID: a.WABAID, Time: time.Now().Unix(), Changes: []change{u.change(a)}})
			continue
		}
		main.Changes = append(main.Changes, e.change(a))
	}
	if len(main.Changes) > 0 {
		entries = append([]entry{main}, entries...)
	}
	body, err := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": entries})
	if err != nil {
		panic(err) // only strings, numbers and maps of them
	}
	return body
}

// Request returns a POST of the notification of events to url, signed with appSecret as Meta signs it.
func (a Account) Request(ctx context.Context, url, appSecret string, events ...Event) (*http.Request, error) {
	body := a.Notification(events...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Signature(body, appSecret))
	return req, nil
}

func (a Account) metadata() map[string]string {
	return map[string]string{"display_phone_number": a.DisplayPhoneNumber, "phone_number_id": a.PhoneNumberID}
}

// Sender is who sent a message, and the message's ID and time. An empty ID gets a new wamid; a zero At is now.
type Sender struct {
	ID   string
	From string // the user's WhatsApp ID
	Name string // their profile name
	At   time.Time
}

// Text is a typed message.
type Text struct {
	Sender
	Body string
}

// Button is a tap on a template's quick-reply button: Text is its label, Payload what the template gave it.
type Button struct {
	Sender
	Text, Payload string
	ReplyTo       string // the template message's wamid
}

// ButtonReply is a tap on an interactive message's reply button.
type ButtonReply struct {
	Sender
	ReplyID, Title string
}

// ListReply is a choice of an interactive list's row.
type ListReply struct {
	Sender
	ReplyID, Title, Description string
}

// Other is a message of a type the service doesn't read, such as image or reaction, with no content.
type Other struct {
	Sender
	Type string
}

func (t Text) change(a Account) change {
	return t.message(a, "text", map[string]any{"text": map[string]string{"body": t.Body}})
}

func (b Button) change(a Account) change {
	fields := map[string]any{"button": map[string]string{"text": b.Text, "payload": b.Payload}}
	if b.ReplyTo != "" {
		fields["context"] = map[string]string{"from": b.From, "id": b.ReplyTo}
	}
	return b.message(a, "button", fields)
}

func (b ButtonReply) change(a Account) change {
	return b.message(a, "interactive", map[string]any{"interactive": map[string]any{
		"type": "button_reply", "button_reply": map[string]string{"id": b.ReplyID, "title": b.Title},
	}})
}

func (l ListReply) change(a Account) change {
	return l.message(a, "interactive", map[string]any{"interactive": map[string]any{
		"type": "list_reply", "list_reply": map[string]string{"id": l.ReplyID, "title": l.Title, "description": l.Description},
	}})
}

func (o Other) change(a Account) change { return o.message(a, o.Type, nil) }

// message is the change of a messages webhook for one message: fields are its type's own.
func (s Sender) message(a Account, typ string, fields map[string]any) change {
	m := map[string]any{"from": s.From, "id": orWAMID(s.ID), "timestamp": unixString(s.At), "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	return change{Field: "messages", Value: map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          a.metadata(),
		"contacts":          []any{contact(s.From, s.Name)},
		"messages":          []any{m},
	}}
}

// Status is a change in the state of a message the business sent.
type Status struct {
	ID           string // the message's wamid
	RecipientID  string
	Status       string // sent, delivered, read or failed
	At           time.Time
	CallbackData string
	Errors       []Error
}

// Error is an error of a failed status.
type Error struct {
	Code                    int
	Title, Message, Details string
}

// Failed returns a failed status of message id with the error Meta answers f with.
func Failed(id, recipientID string, f Failure) Status {
	return Status{ID: id, RecipientID: recipientID, Status: "failed", Errors: []Error{{
		Code: f.Code, Title: f.Message, Message: f.Message, Details: f.Details,
	}}}
}

func (s Status) change(a Account) change {
	st := map[string]any{"id": s.ID, "status": s.Status, "timestamp": unixString(s.At), "recipient_id": s.RecipientID}
	if s.CallbackData != "" {
		st["biz_opaque_callback_data"] = s.CallbackData
	}
	if s.Status != "failed" {
		st["conversation"] = map[string]any{"id": "CONVERSATION_ID", "origin": map[string]string{"type": "marketing"}}
		st["pricing"] = map[string]any{"billable": true, "pricing_model": "PMP", "category": "marketing", "type": "regular"}
	}
	var errs []any
	for _, e := range s.Errors {
		errs = append(errs, map[string]any{
			"code": e.Code, "title": e.Title, "message": e.Message, "error_data": map[string]string{"details": e.Details},
			"href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
		})
	}
	if errs != nil {
		st["errors"] = errs
	}
	return change{Field: "messages", Value: map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          a.metadata(),
		"statuses":          []any{st},
	}}
}

// Preference is a user stopping or resuming the business's marketing messages from WhatsApp's own settings.
type Preference struct {
	WAID  string
	Name  string
	Value string // stop or resume
	At    time.Time
}

func (p Preference) change(a Account) change {
	detail := map[string]string{
		"stop":   "User requested to stop marketing messages",
		"resume": "User requested to resume marketing messages",
	}[p.Value]
	return change{Field: "user_preferences", Value: map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          a.metadata(),
		"contacts":          []any{contact(p.WAID, p.Name)},
		"user_preferences": []any{map[string]any{
			"wa_id": p.WAID, "detail": detail, "category": "marketing_messages", "value": p.Value, "timestamp": orNow(p.At).Unix(),
		}},
	}}
}

// CategoryUpdate is Meta changing a template's category (Correct empty), or announcing that it will at EffectiveAt.
type CategoryUpdate struct {
	TemplateID     int64
	Name, Language string
	Previous, New  string // a completed change's categories; for an announced one, New is the current category
	Correct        string // an announced change's coming category
	EffectiveAt    time.Time
}

func (u CategoryUpdate) change(Account) change {
	v := map[string]any{
		"message_template_id": u.TemplateID, "message_template_name": u.Name, "message_template_language": u.Language,
		"new_category": u.New,
	}
	if u.Correct != "" {
		v["correct_category"] = u.Correct
		v["category_update_timestamp"] = u.EffectiveAt.Unix()
	} else {
		v["previous_category"] = u.Previous
	}
	return change{Field: "template_category_update", Value: v}
}

func contact(waID, name string) map[string]any {
	return map[string]any{"profile": map[string]string{"name": name}, "wa_id": waID}
}

func orWAMID(id string) string {
	if id == "" {
		return newWAMID()
	}
	return id
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// unixString is a timestamp as messages and statuses carry it: unix seconds in a string.
func unixString(t time.Time) string { return strconv.FormatInt(orNow(t).Unix(), 10) }
