package whatsapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/optout-dev/optout/internal/strictjson"
)

// Notification is what one webhook POST from Meta carries, flattened out of its entry[].changes[] envelope, each
// event in the order Meta sent it and labelled with the account and phone number it came for.
type Notification struct {
	Messages        []*Message
	Statuses        []*Status
	Preferences     []*Preference
	CategoryUpdates []*CategoryUpdate
	Errors          []*SystemError // problems Meta reports for the app or account rather than for one message

	// Ignored counts the changes of webhook fields this package doesn't read (account_update,
	// message_template_status_update...), by field, so that a subscription sending more than the service uses shows
	// in its metrics instead of failing.
	Ignored map[string]int
}

// Kind is what a message is to the service, which reads only what a contact can type or tap.
type Kind string

const (
	KindText        Kind = "text"         // a typed message: Text is its body
	KindButton      Kind = "button"       // a template's quick-reply button: Text is its label, Payload its payload
	KindButtonReply Kind = "button_reply" // an interactive reply button: Text is its title, Payload its ID
	KindListReply   Kind = "list_reply"   // an interactive list row: Text is its title, Payload its ID
	KindUnsupported Kind = "unsupported"  // anything else (media, location, reactions...): Type says what
)

// Message is a message from a WhatsApp user (value.messages[] of the messages field).
type Message struct {
	WABAID        string // the WhatsApp Business Account (entry.id)
	PhoneNumberID string // the business phone number it was sent to (value.metadata.phone_number_id)

	ID         string    // Meta's message ID, a wamid
	From       string    // the user's WhatsApp ID, their phone number's digits; empty when Meta gives only FromUserID
	FromUserID string    // the user's business-scoped user ID, when Meta gives one
	Name       string    // the user's profile name (value.contacts[].profile.name), if Meta sent it
	Timestamp  time.Time // when the user sent it
	Type       string    // Meta's message type: text, button, interactive, image...
	Kind       Kind

	Text        string // see Kind
	Payload     string // see Kind
	Description string // a list row's description
	ReplyTo     string // context.id: the business's message this one answers, such as the template of a button

	Errors []*WebhookError // what Meta couldn't process, e.g. 131051 for a type it doesn't support
}

// The statuses Meta reports for a message the business sent (statuses[].status).
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
	StatusPlayed    = "played" // a voice message was played
)

// Status is a change in the state of a message the business sent (value.statuses[] of the messages field).
type Status struct {
	WABAID        string
	PhoneNumberID string

	ID              string    // the wamid Send returned
	Status          string    // one of the Status constants, or a newer one of Meta's, kept as sent
	Timestamp       time.Time // when the message reached this status
	RecipientID     string    // the user's WhatsApp ID (a group's ID for a group message)
	RecipientUserID string    // the user's business-scoped user ID, when Meta gives one
	CallbackData    string    // biz_opaque_callback_data, as given to Send

	Conversation *Conversation
	Pricing      *Pricing
	Errors       []*WebhookError // why a failed message failed
}

// Code returns the code of the status's first error, or NoCode if it has none.
func (s *Status) Code() Code {
	if len(s.Errors) == 0 {
		return NoCode
	}
	return s.Errors[0].Code
}

// Conversation is the conversation a status's message opened or belongs to.
type Conversation struct {
	ID         string
	OriginType string    // the conversation's category: marketing, utility, service...
	ExpiresAt  time.Time // when its window closes, if Meta says
}

// Pricing is how Meta prices a status's message.
type Pricing struct {
	Billable bool
	Model    string // pricing_model
	Category string
	Type     string
}

// The category and values of a user's marketing preference (user_preferences[]).
const (
	PreferenceMarketing = "marketing_messages"
	PreferenceStop      = "stop"
	PreferenceResume    = "resume"
)

// Preference is a user stopping or resuming the business's marketing messages in WhatsApp itself (value of the
// user_preferences field). It is triggered only by stop and resume, never by "Interested"/"Not interested" feedback.
type Preference struct {
	WABAID        string
	PhoneNumberID string

	WAID      string // the user's WhatsApp ID
	UserID    string // the user's business-scoped user ID, when Meta gives one
	Name      string // the user's profile name, if Meta sent it
	Category  string // PreferenceMarketing
	Value     string // PreferenceStop or PreferenceResume
	Detail    string // e.g. "User requested to stop marketing messages"
	Timestamp time.Time
}

// CategoryUpdate is Meta changing, or announcing it will change, a template's category (value of the
// template_category_update field).
type CategoryUpdate struct {
	WABAID string
	Time   time.Time // when Meta sent it (entry.time), if it says

	TemplateID   string // message_template_id
	TemplateName string
	Language     string // e.g. en_US

	// a completed change has the previous and the new category
	PreviousCategory string
	NewCategory      string // for an announced change, the template's current category

	// an announced change has the category the template will have at EffectiveAt
	CorrectCategory string
	EffectiveAt     time.Time
}

// Announced reports whether the update announces a future change rather than reporting a completed one.
func (u *CategoryUpdate) Announced() bool { return u.CorrectCategory != "" }

// Category returns the category the update gives the template: the new one, or the one it will have at EffectiveAt.
func (u *CategoryUpdate) Category() string {
	if u.Announced() {
		return u.CorrectCategory
	}
	return u.NewCategory
}

// WebhookError is an error as webhooks report it.
type WebhookError struct {
	Code    Code
	Title   string
	Message string
	Details string // error_data.details
	Href    string // the error codes page
}

// SystemError is an error Meta reports for the app or account rather than for a message (value.errors[] of the
// messages field).
type SystemError struct {
	WABAID        string
	PhoneNumberID string
	*WebhookError
}

// the webhook fields this package reads
const (
	fieldMessages         = "messages"
	fieldUserPreferences  = "user_preferences"
	fieldCategoryUpdate   = "template_category_update"
	objectBusinessAccount = "whatsapp_business_account"
)

// ParseNotification parses the body of a webhook POST. It is tolerant of what Meta may add (unknown properties are
// ignored, changes of unknown fields counted in Ignored) and strict about what the service needs: a message without
// an ID, sender or readable timestamp, or a status without an ID, is an error naming its JSON path, such as
// entry[0].changes[0].value.messages[0].timestamp.
func ParseNotification(body []byte) (*Notification, error) {
	var wire struct {
		Object string `json:"object"`
		Entry  []struct {
			ID      string          `json:"id"`
			Time    json.RawMessage `json:"time"`
			Changes []struct {
				Field string          `json:"field"`
				Value json.RawMessage `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := decode(body, &wire, ""); err != nil {
		return nil, err
	}
	if wire.Object != objectBusinessAccount {
		return nil, fmt.Errorf("object: must be %q, not %q", objectBusinessAccount, wire.Object)
	}

	n := &Notification{Ignored: map[string]int{}}
	for i, entry := range wire.Entry {
		path := fmt.Sprintf("entry[%d]", i)
		if entry.ID == "" {
			return nil, missing(path + ".id")
		}
		sent, err := unixTime(entry.Time, path+".time", false)
		if err != nil {
			return nil, err
		}
		for j, change := range entry.Changes {
			path := fmt.Sprintf("%s.changes[%d]", path, j)
			if change.Field == "" {
				return nil, missing(path + ".field")
			}
			switch change.Field {
			case fieldMessages, fieldUserPreferences:
				err = n.addMessaging(entry.ID, change.Value, path+".value")
			case fieldCategoryUpdate:
				err = n.addCategoryUpdate(entry.ID, sent, change.Value, path+".value")
			default:
				n.Ignored[change.Field]++
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

// wireValue is the value of the messages and user_preferences fields, which share their metadata and contacts.
type wireValue struct {
	Metadata *struct {
		PhoneNumberID string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WAID   string `json:"wa_id"`
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages        []wireMessage    `json:"messages"`
	Statuses        []wireStatus     `json:"statuses"`
	Errors          []wireError      `json:"errors"`
	UserPreferences []wirePreference `json:"user_preferences"`
}

type wireMessage struct {
	ID         string          `json:"id"`
	From       string          `json:"from"`
	FromUserID string          `json:"from_user_id"`
	Timestamp  json.RawMessage `json:"timestamp"`
	Type       string          `json:"type"`
	Context    *struct {
		ID string `json:"id"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
	Interactive *struct {
		Type        string     `json:"type"`
		ButtonReply *wireReply `json:"button_reply"`
		ListReply   *wireReply `json:"list_reply"`
	} `json:"interactive"`
	Errors []wireError `json:"errors"`
}

type wireReply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type wireStatus struct {
	ID              string          `json:"id"`
	Status          string          `json:"status"`
	Timestamp       json.RawMessage `json:"timestamp"`
	RecipientID     string          `json:"recipient_id"`
	RecipientUserID string          `json:"recipient_user_id"`
	CallbackData    string          `json:"biz_opaque_callback_data"`
	Conversation    *struct {
		ID                  string          `json:"id"`
		ExpirationTimestamp json.RawMessage `json:"expiration_timestamp"`
		Origin              struct {
			Type string `json:"type"`
		} `json:"origin"`
	} `json:"conversation"`
	Pricing *struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Category     string `json:"category"`
		Type         string `json:"type"`
	} `json:"pricing"`
	Errors []wireError `json:"errors"`
}

type wireError struct {
	Code      *int   `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	Href      string `json:"href"`
	Details   string `json:"details"` // where messages[].errors[] put it
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

type wirePreference struct {
	WAID      string          `json:"wa_id"`
	UserID    string          `json:"user_id"`
	Detail    string          `json:"detail"`
	Category  string          `json:"category"`
	Value     string          `json:"value"`
	Timestamp json.RawMessage `json:"timestamp"`
}

func (n *Notification) addMessaging(wabaID string, raw json.RawMessage, path string) error {
	var v wireValue
	if err := decode(raw, &v, path); err != nil {
		return err
	}
	if v.Metadata == nil || v.Metadata.PhoneNumberID == "" {
		return missing(path + ".metadata.phone_number_id")
	}
	phone := v.Metadata.PhoneNumberID

	names := map[string]string{}
	for _, c := range v.Contacts {
		for _, id := range []string{c.WAID, c.UserID} {
			if id != "" {
				names[id] = c.Profile.Name
			}
		}
	}
	nameOf := func(ids ...string) string {
		for _, id := range ids {
			if name, ok := names[id]; ok {
				return name
			}
		}
		return ""
	}

	for i, wm := range v.Messages {
		m, err := parseMessage(&wm, fmt.Sprintf("%s.messages[%d]", path, i))
		if err != nil {
			return err
		}
		m.WABAID, m.PhoneNumberID, m.Name = wabaID, phone, nameOf(m.From, m.FromUserID)
		n.Messages = append(n.Messages, m)
	}
	for i, ws := range v.Statuses {
		s, err := parseStatus(&ws, fmt.Sprintf("%s.statuses[%d]", path, i))
		if err != nil {
			return err
		}
		s.WABAID, s.PhoneNumberID = wabaID, phone
		n.Statuses = append(n.Statuses, s)
	}
	for i, we := range v.Errors {
		e, err := parseError(&we, fmt.Sprintf("%s.errors[%d]", path, i))
		if err != nil {
			return err
		}
		n.Errors = append(n.Errors, &SystemError{WABAID: wabaID, PhoneNumberID: phone, WebhookError: e})
	}
	for i, wp := range v.UserPreferences {
		p, err := parsePreference(&wp, fmt.Sprintf("%s.user_preferences[%d]", path, i))
		if err != nil {
			return err
		}
		p.WABAID, p.PhoneNumberID, p.Name = wabaID, phone, nameOf(p.WAID, p.UserID)
		n.Preferences = append(n.Preferences, p)
	}
	return nil
}

func parseMessage(wm *wireMessage, path string) (*Message, error) {
	if wm.ID == "" {
		return nil, missing(path + ".id")
	}
	if wm.From == "" && wm.FromUserID == "" {
		return nil, missing(path + ".from")
	}
	if wm.Type == "" {
		return nil, missing(path + ".type")
	}
	ts, err := unixTime(wm.Timestamp, path+".timestamp", true)
	if err != nil {
		return nil, err
	}
	errs, err := parseErrors(wm.Errors, path+".errors")
	if err != nil {
		return nil, err
	}
	m := &Message{ID: wm.ID, From: wm.From, FromUserID: wm.FromUserID, Timestamp: ts, Type: wm.Type, Kind: KindUnsupported, Errors: errs}
	if wm.Context != nil {
		m.ReplyTo = wm.Context.ID
	}

	switch wm.Type {
	case "text":
		if wm.Text == nil {
			return nil, missing(path + ".text")
		}
		m.Kind, m.Text = KindText, wm.Text.Body
	case "button":
		if wm.Button == nil {
			return nil, missing(path + ".button")
		}
		m.Kind, m.Text, m.Payload = KindButton, wm.Button.Text, wm.Button.Payload
	case "interactive":
		if wm.Interactive == nil {
			return nil, missing(path + ".interactive")
		}
		var reply *wireReply
		switch wm.Interactive.Type {
		case "button_reply":
			m.Kind, reply = KindButtonReply, wm.Interactive.ButtonReply
		case "list_reply":
			m.Kind, reply = KindListReply, wm.Interactive.ListReply
		default: // a flow's nfm_reply and whatever Meta adds: nothing a contact typed
			return m, nil
		}
		if reply == nil {
			return nil, missing(path + ".interactive." + wm.Interactive.Type)
		}
		m.Text, m.Payload, m.Description = reply.Title, reply.ID, reply.Description
	}
	return m, nil
}

func parseStatus(ws *wireStatus, path string) (*Status, error) {
	if ws.ID == "" {
		return nil, missing(path + ".id")
	}
	if ws.Status == "" {
		return nil, missing(path + ".status")
	}
	ts, err := unixTime(ws.Timestamp, path+".timestamp", true)
	if err != nil {
		return nil, err
	}
	errs, err := parseErrors(ws.Errors, path+".errors")
	if err != nil {
		return nil, err
	}
	s := &Status{
		ID: ws.ID, Status: ws.Status, Timestamp: ts, RecipientID: ws.RecipientID, RecipientUserID: ws.RecipientUserID,
		CallbackData: ws.CallbackData, Errors: errs,
	}
	if c := ws.Conversation; c != nil {
		expires, err := unixTime(c.ExpirationTimestamp, path+".conversation.expiration_timestamp", false)
		if err != nil {
			return nil, err
		}
		s.Conversation = &Conversation{ID: c.ID, OriginType: c.Origin.Type, ExpiresAt: expires}
	}
	if p := ws.Pricing; p != nil {
		s.Pricing = &Pricing{Billable: p.Billable, Model: p.PricingModel, Category: p.Category, Type: p.Type}
	}
	return s, nil
}

func parseErrors(wes []wireError, path string) ([]*WebhookError, error) {
	var errs []*WebhookError
	for i := range wes {
		e, err := parseError(&wes[i], fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		errs = append(errs, e)
	}
	return errs, nil
}

func parseError(we *wireError, path string) (*WebhookError, error) {
	if we.Code == nil {
		return nil, missing(path + ".code")
	}
	details := we.ErrorData.Details
	if details == "" {
		details = we.Details
	}
	return &WebhookError{Code: Code(*we.Code), Title: we.Title, Message: we.Message, Details: details, Href: we.Href}, nil
}

func parsePreference(wp *wirePreference, path string) (*Preference, error) {
	if wp.WAID == "" && wp.UserID == "" {
		return nil, missing(path + ".wa_id")
	}
	if wp.Category == "" {
		return nil, missing(path + ".category")
	}
	if wp.Value == "" {
		return nil, missing(path + ".value")
	}
	ts, err := unixTime(wp.Timestamp, path+".timestamp", true)
	if err != nil {
		return nil, err
	}
	return &Preference{WAID: wp.WAID, UserID: wp.UserID, Category: wp.Category, Value: wp.Value, Detail: wp.Detail, Timestamp: ts}, nil
}

func (n *Notification) addCategoryUpdate(wabaID string, sent time.Time, raw json.RawMessage, path string) error {
	var v struct {
		TemplateID       json.Number     `json:"message_template_id"`
		TemplateName     string          `json:"message_template_name"`
		Language         string          `json:"message_template_language"`
		PreviousCategory string          `json:"previous_category"`
		NewCategory      string          `json:"new_category"`
		CorrectCategory  string          `json:"correct_category"`
		UpdateTimestamp  json.RawMessage `json:"category_update_timestamp"`
	}
	if err := decode(raw, &v, path); err != nil {
		return err
	}
	switch {
	case v.TemplateID == "":
		return missing(path + ".message_template_id")
	case v.TemplateName == "":
		return missing(path + ".message_template_name")
	case v.Language == "":
		return missing(path + ".message_template_language")
	case v.NewCategory == "":
		return missing(path + ".new_category")
	}
	u := &CategoryUpdate{
		WABAID: wabaID, Time: sent, TemplateID: v.TemplateID.String(), TemplateName: v.TemplateName, Language: v.Language,
		PreviousCategory: v.PreviousCategory, NewCategory: v.NewCategory, CorrectCategory: v.CorrectCategory,
	}
	if u.Announced() {
		var err error
		if u.EffectiveAt, err = unixTime(v.UpdateTimestamp, path+".category_update_timestamp", true); err != nil {
			return err
		}
	}
	n.CategoryUpdates = append(n.CategoryUpdates, u)
	return nil
}

// unixTime parses one of Meta's timestamps: unix seconds, which messages and statuses send as a string and the other
// fields as a number. Meta has been seen sending milliseconds (courier's handlers/meta/whatsapp/api.go logs it), so a
// value too large to be seconds in this era is read as milliseconds.
func unixTime(raw json.RawMessage, path string, required bool) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			return time.Time{}, missing(path)
		}
		return time.Time{}, nil
	}
	s := string(raw)
	if unquoted, err := strconv.Unquote(s); err == nil {
		s = unquoted
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ts <= 0 {
		return time.Time{}, fmt.Errorf("%s: %s is not a unix time", path, raw)
	}
	if ts >= 1_000_000_000_000 {
		return time.UnixMilli(ts).UTC(), nil
	}
	return time.Unix(ts, 0).UTC(), nil
}

func missing(path string) error { return fmt.Errorf("%s: missing", path) }

// decode unmarshals data, wording a type error with its place: encoding/json names the field by its path of
// properties without the array indexes, so the error starts with the path of the value that held it.
func decode(data []byte, v any, path string) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	prefix := ""
	if path != "" {
		prefix = path + ": "
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			field = "(top level)"
		}
		kind := strictjson.Kind(typeErr.Type)
		if typeErr.Type == reflect.TypeFor[json.Number]() { // a string type that holds a number
			kind = "a number"
		}
		return fmt.Errorf("%s%s: must be %s, not %s", prefix, field, kind, typeErr.Value)
	}
	return fmt.Errorf("%smalformed JSON: %w", prefix, err)
}
