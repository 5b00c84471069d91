package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is Meta's Graph API.
const DefaultBaseURL = "https://graph.facebook.com"

// APIVersion is the Graph API version the client calls: the one courier, RapidPro's channel layer, pins in
// handlers/meta/handlers.go as of August 2026. Payloads here are those of Meta's references updated in 2025 and 2026.
const APIVersion = "v25.0"

// DefaultTimeout bounds one call to the messages endpoint, connection included. Meta answers in well under a second;
// a call that takes this long is lost and the message is sent again.
const DefaultTimeout = 20 * time.Second

// maxResponse is the most of a response body the client reads: Meta's answers are a few hundred bytes.
const maxResponse = 1 << 20

// Client sends messages through the Cloud API's messages endpoint. It is safe for concurrent use.
type Client struct {
	base    string
	version string
	http    *http.Client
}

// Option changes one of a Client's settings from its default.
type Option func(*Client)

// WithVersion sets the Graph API version, APIVersion by default.
func WithVersion(version string) Option { return func(c *Client) { c.version = version } }

// WithHTTPClient sets the HTTP client, which then brings its own timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the Graph API at baseURL (DefaultBaseURL for Meta's own; a test's server otherwise).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("whatsapp: graph URL %q is not an http(s) URL", baseURL)
	}
	// a sender at Meta's default 80 messages a second keeps dozens of requests in flight to one host, and Go's
	// default of 2 idle connections per host would open and close most of them
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 128
	c := &Client{
		base:    strings.TrimSuffix(baseURL, "/"),
		version: APIVersion,
		http:    &http.Client{Timeout: DefaultTimeout, Transport: transport},
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// OutgoingMessage is a message to send: a text or a template, to a phone number or a business-scoped user ID.
type OutgoingMessage struct {
	To        string // the user's phone number or WhatsApp ID
	Recipient string // the user's business-scoped user ID, for a user Meta identifies only by it

	Text     *Text
	Template *Template

	// CallbackData comes back in the message's status webhooks (biz_opaque_callback_data), so that a status can be
	// matched to its message even when the wamid of the send was never recorded. Meta allows 512 characters.
	CallbackData string
}

// Text is a text message's content.
type Text struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

// Template is a template message's content: an approved template of the account, by name and language, with the
// values of its variables.
type Template struct {
	Name       string      `json:"name"`
	Language   Language    `json:"language"`
	Components []Component `json:"components,omitempty"`
}

// Language is a template's language and locale code, such as pt_BR.
type Language struct {
	Code string `json:"code"`
}

// Component gives the parameters of one of a template's components: its header, its body, or one of its buttons.
type Component struct {
	Type       string      `json:"type"`               // header, body or button
	SubType    string      `json:"sub_type,omitempty"` // a button's: quick_reply, url...
	Index      string      `json:"index,omitempty"`    // a button's position, from "0"
	Parameters []Parameter `json:"parameters,omitempty"`
}

// Parameter is the value of one of a component's variables.
type Parameter struct {
	Type          string `json:"type"`                     // text, payload, image, video, document...
	ParameterName string `json:"parameter_name,omitempty"` // for a template with named variables
	Text          string `json:"text,omitempty"`
	Payload       string `json:"payload,omitempty"` // what a quick-reply button sends back when tapped
	Image         *Media `json:"image,omitempty"`
	Video         *Media `json:"video,omitempty"`
	Document      *Media `json:"document,omitempty"`
}

// Media is a header's media, by ID of an upload or by link.
type Media struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// Sent is Meta's answer to a message it accepted.
type Sent struct {
	ID string // the message's wamid, which its status webhooks carry

	// the user, as Meta resolved the recipient: their WhatsApp ID may differ from the number the message was sent
	// to (a Brazilian mobile number without its ninth digit, for one), and status webhooks use it
	WAID   string
	UserID string

	// Status is message_status, which Meta gives templates: accepted, held_for_quality_assessment or paused
	Status string
}

// sendRequest is the messages endpoint's body.
type sendRequest struct {
	MessagingProduct string    `json:"messaging_product"`
	RecipientType    string    `json:"recipient_type"`
	To               string    `json:"to,omitempty"`
	Recipient        string    `json:"recipient,omitempty"`
	Type             string    `json:"type"`
	Text             *Text     `json:"text,omitempty"`
	Template         *Template `json:"template,omitempty"`
	CallbackData     string    `json:"biz_opaque_callback_data,omitempty"`
}

// Send sends a message from the business phone number phoneNumberID, authenticated with accessToken. Its error is an
// *Error when Meta refused the message or didn't answer (see Error.Class), and any other error when the message was
// refused before it was sent because it is incomplete, which sending again won't change.
func (c *Client) Send(ctx context.Context, phoneNumberID, accessToken string, msg *OutgoingMessage) (*Sent, error) {
	body, err := requestBody(msg)
	if err != nil {
		return nil, err
	}
	if phoneNumberID == "" {
		return nil, errors.New("whatsapp: phone number ID: missing")
	}
	if accessToken == "" {
		return nil, errors.New("whatsapp: access token: missing")
	}

	endpoint := c.base + "/" + c.version + "/" + url.PathEscape(phoneNumberID) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	// the token goes in a header, never in the URL, which proxies and error messages would show
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // its message repeats the URL, which the Error already says nothing of
		}
		return nil, &Error{Code: NoCode, err: err}
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, &Error{HTTPStatus: resp.StatusCode, Code: NoCode, err: err}
	}

	if resp.StatusCode/100 != 2 {
		return nil, graphError(resp, respBody)
	}
	var ok struct {
		Contacts []struct {
			WAID   string `json:"wa_id"`
			UserID string `json:"user_id"`
		} `json:"contacts"`
		Messages []struct {
			ID     string `json:"id"`
			Status string `json:"message_status"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(respBody, &ok); err != nil || len(ok.Messages) == 0 || ok.Messages[0].ID == "" {
		return nil, &Error{HTTPStatus: resp.StatusCode, Code: NoCode, err: errors.New("the response has no messages[0].id")}
	}
	sent := &Sent{ID: ok.Messages[0].ID, Status: ok.Messages[0].Status}
	if len(ok.Contacts) > 0 {
		sent.WAID, sent.UserID = ok.Contacts[0].WAID, ok.Contacts[0].UserID
	}
	return sent, nil
}

// requestBody builds the messages endpoint's body for msg, refusing a message Meta would refuse for want of a field.
func requestBody(msg *OutgoingMessage) ([]byte, error) {
	if msg == nil {
		return nil, errors.New("whatsapp: message: missing")
	}
	r := sendRequest{
		MessagingProduct: "whatsapp", RecipientType: "individual",
		To: msg.To, Recipient: msg.Recipient, CallbackData: msg.CallbackData,
	}
	switch {
	case msg.To == "" && msg.Recipient == "":
		return nil, errors.New("whatsapp: to: missing")
	case msg.To != "" && msg.Recipient != "":
		return nil, errors.New("whatsapp: to and recipient: only one may be given")
	case (msg.Text == nil) == (msg.Template == nil):
		return nil, errors.New("whatsapp: a message must have either a text or a template")
	case msg.Text != nil:
		if msg.Text.Body == "" {
			return nil, errors.New("whatsapp: text.body: missing")
		}
		r.Type, r.Text = "text", msg.Text
	default:
		if msg.Template.Name == "" {
			return nil, errors.New("whatsapp: template.name: missing")
		}
		if msg.Template.Language.Code == "" {
			return nil, errors.New("whatsapp: template.language.code: missing")
		}
		for i, comp := range msg.Template.Components {
			if comp.Type == "" {
				return nil, fmt.Errorf("whatsapp: template.components[%d].type: missing", i)
			}
		}
		r.Type, r.Template = "template", msg.Template
	}
	return json.Marshal(r)
}

// graphError reads a failed response: the Graph API's error object, or only the status when the body isn't one (a
// proxy's HTML page, say).
func graphError(resp *http.Response, body []byte) *Error {
	e := &Error{HTTPStatus: resp.StatusCode, Code: NoCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.retryAfter = time.Duration(secs) * time.Second
	}

	var wire struct {
		Error *struct {
			Message   string          `json:"message"`
			Type      string          `json:"type"`
			Code      *int            `json:"code"`
			Subcode   int             `json:"error_subcode"`
			FBTraceID string          `json:"fbtrace_id"`
			ErrorData json.RawMessage `json:"error_data"` // an object with details here, a string in other APIs
		} `json:"error"`
	}
	if json.Unmarshal(body, &wire) != nil || wire.Error == nil {
		return e
	}
	w := wire.Error
	if w.Code != nil {
		e.Code = Code(*w.Code)
	}
	e.Subcode, e.Type, e.Message, e.FBTraceID = w.Subcode, w.Type, w.Message, w.FBTraceID
	var data struct {
		Details string `json:"details"`
	}
	if json.Unmarshal(w.ErrorData, &data) == nil {
		e.Details = data.Details
	}
	return e
}
