// Package graphtest is a Graph API of the tests' own, on loopback, for code that sends WhatsApp messages through the
// Cloud API: it checks each request as Meta documents the messages endpoint, answers with Meta's documented success
// and error bodies, fails the requests a test chooses, and records everything it received. It also builds the webhook
// notifications Meta would POST back, signed with an app secret.
//
// Nothing here reaches Meta. Shapes follow Meta's public references: the messages endpoint
// (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages), the error codes page
// (https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes) and the webhooks
// reference (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/).
package graphtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake Graph API. Its methods are safe for concurrent use.
type Server struct {
	URL string // the base URL to give the client, without a version

	mu       sync.Mutex
	phones   map[string]string // phone number ID → its access token
	waIDs    map[string]string // a number → the WhatsApp ID Meta resolves it to, when it isn't its digits
	rules    []*rule
	requests []*Request
}

// Request is one request the server received.
type Request struct {
	Seq           int // 1 for the first request the server received
	At            time.Time
	Version       string // the Graph API version in the path, e.g. v25.0
	PhoneNumberID string
	Token         string // the bearer token
	Body          []byte
	Message       *Message // the body, if it was JSON

	Failure *Failure // what the server answered instead of accepting it, if anything
	WAMID   string   // the message ID it answered, if it accepted it
}

// Accepted reports whether the server accepted the message.
func (r *Request) Accepted() bool { return r.WAMID != "" }

// Message is the body of a messages request, as Meta documents it.
type Message struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Recipient        string `json:"recipient"`
	Type             string `json:"type"`
	Text             *struct {
		Body       string `json:"body"`
		PreviewURL bool   `json:"preview_url"`
	} `json:"text"`
	Template *struct {
		Name     string `json:"name"`
		Language struct {
			Code string `json:"code"`
		} `json:"language"`
		Components json.RawMessage `json:"components"`
	} `json:"template"`
	CallbackData string `json:"biz_opaque_callback_data"`
}

// New starts a server, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{phones: map[string]string{}, waIDs: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = srv.URL
	t.Cleanup(srv.Close)
	return s
}

// AddPhone makes phoneNumberID a business phone number of the server's, whose messages need accessToken.
func (s *Server) AddPhone(phoneNumberID, accessToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phones[phoneNumberID] = accessToken
}

// SetWAID makes the server answer waID as the WhatsApp ID of number, as Meta does for a Brazilian mobile number sent
// with a ninth digit its WhatsApp account doesn't have. Otherwise a number's WhatsApp ID is its digits.
func (s *Server) SetWAID(number, waID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waIDs[number] = waID
}

// Match selects requests for a failure.
type Match func(*Request) bool

// Any matches every request.
func Any(*Request) bool { return true }

// To matches the messages to a phone number or business-scoped user ID.
func To(recipient string) Match {
	return func(r *Request) bool {
		return r.Message != nil && (r.Message.To == recipient || r.Message.Recipient == recipient)
	}
}

// EveryNth matches the nth request the server receives, the 2nth, and so on.
func EveryNth(n int) Match { return func(r *Request) bool { return r.Seq%n == 0 } }

type rule struct {
	match   Match
	left    int // how many more requests it fails; -1 for all
	failure Failure
}

// Fail makes the server answer f, instead of accepting the message, to the requests match selects: the next times of
// them, or all of them if times is 0. Rules apply in the order they were added, to requests that are valid; the first
// rule that matches a request answers it.
func (s *Server) Fail(match Match, times int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	left := times
	if times == 0 {
		left = -1
	}
	s.rules = append(s.rules, &rule{match: match, left: left, failure: f})
}

// Requests returns every request the server received, in the order it received them.
func (s *Server) Requests() []*Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Accepted returns the requests whose message the server accepted, in the order it received them.
func (s *Server) Accepted() []*Request {
	return slices.DeleteFunc(s.Requests(), func(r *Request) bool { return !r.Accepted() })
}

// Rate returns how many requests a second came between the first of reqs and the last, which are n-1 intervals.
func Rate(reqs []*Request) float64 {
	if len(reqs) < 2 {
		return 0
	}
	span := reqs[len(reqs)-1].At.Sub(reqs[0].At)
	return float64(len(reqs)-1) / span.Seconds()
}

var messagesPath = regexp.MustCompile(`^/(v\d+\.\d+)/([^/]+)/messages$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := &Request{At: time.Now(), Body: body}
	if m := messagesPath.FindStringSubmatch(r.URL.Path); m != nil {
		req.Version, req.PhoneNumberID = m[1], m[2]
	}
	req.Token, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var msg Message
	if json.Unmarshal(body, &msg) == nil {
		req.Message = &msg
	}

	s.mu.Lock()
	req.Seq = len(s.requests) + 1
	s.requests = append(s.requests, req)
	failure := s.check(r, req)
	if failure == nil {
		failure = s.failure(req)
	}
	if failure != nil {
		req.Failure = failure
	} else {
		req.WAMID = newWAMID()
	}
	recipient, waID := s.resolve(req.Message)
	s.mu.Unlock()

	if failure != nil {
		failure.answer(w, r)
		return
	}
	contact := map[string]string{"input": recipient, "wa_id": waID}
	if req.Message.Recipient != "" {
		contact = map[string]string{"input": recipient, "user_id": recipient}
	}
	sent := map[string]string{"id": req.WAMID}
	if req.Message.Type == "template" {
		sent["message_status"] = "accepted"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []any{contact},
		"messages":          []any{sent},
	})
}

// check answers a request as Meta would one it can't take: unauthenticated, for an unknown phone number, or without
// what the messages endpoint requires.
func (s *Server) check(r *http.Request, req *Request) *Failure {
	if r.Method != http.MethodPost || req.Version == "" {
		return &Failure{HTTPStatus: http.StatusBadRequest, Code: 100, Type: "GraphMethodException",
			Message: fmt.Sprintf("Unsupported %s request.", r.Method)}
	}
	// like the Graph API, the server checks the token before what it may reach
	if req.Token == "" || !slices.Contains(slices.Collect(maps.Values(s.phones)), req.Token) {
		f := TokenInvalid
		return &f
	}
	if token, known := s.phones[req.PhoneNumberID]; !known || req.Token != token {
		return &Failure{HTTPStatus: http.StatusBadRequest, Code: 100, Subcode: 33, Type: "GraphMethodException",
			Message: fmt.Sprintf("Unsupported post request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", req.PhoneNumberID)}
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return invalidParameter("Content-Type must be application/json")
	}

	m := req.Message
	switch {
	case m == nil:
		return invalidParameter("The request body is not valid JSON")
	case m.MessagingProduct != "whatsapp":
		return invalidParameter("The parameter messaging_product is required.")
	case m.RecipientType != "" && m.RecipientType != "individual":
		return invalidParameter("recipient_type must be individual")
	case m.To == "" && m.Recipient == "":
		return invalidParameter("The parameter to is required.")
	case m.Type == "text" && (m.Text == nil || m.Text.Body == ""):
		return invalidParameter("The parameter text['body'] is required.")
	case m.Type == "template" && (m.Template == nil || m.Template.Name == ""):
		return invalidParameter("The parameter template['name'] is required.")
	case m.Type == "template" && m.Template.Language.Code == "":
		return invalidParameter("The parameter template['language']['code'] is required.")
	case m.Type != "text" && m.Type != "template":
		return invalidParameter(fmt.Sprintf("graphtest only takes text and template messages, not %q", m.Type))
	}
	return nil
}

func (s *Server) failure(req *Request) *Failure {
	for _, rule := range s.rules {
		if rule.left != 0 && rule.match(req) {
			if rule.left > 0 {
				rule.left--
			}
			f := rule.failure
			return &f
		}
	}
	return nil
}

// resolve returns the recipient as sent and the WhatsApp ID Meta answers for it.
func (s *Server) resolve(m *Message) (recipient, waID string) {
	if m == nil {
		return "", ""
	}
	if m.Recipient != "" {
		return m.Recipient, ""
	}
	if waID, ok := s.waIDs[m.To]; ok {
		return m.To, waID
	}
	return m.To, strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, m.To)
}

// newWAMID returns a message ID shaped like Meta's: "wamid." and base64.
func newWAMID() string {
	b := make([]byte, 30)
	rand.Read(b)
	return "wamid." + base64.StdEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Failure is an answer other than acceptance: a Graph API error, a body that isn't one, or no answer at all.
type Failure struct {
	HTTPStatus int // 0 for no answer: the connection is dropped
	Code       int
	Subcode    int
	Type       string
	Message    string
	Details    string

	Body       string        // a body other than a Graph error, such as a proxy's HTML page
	RetryAfter time.Duration // sent as a Retry-After header
	Hang       time.Duration // how long the server holds the request before answering, or dropping it
}

func invalidParameter(details string) *Failure {
	return &Failure{HTTPStatus: http.StatusBadRequest, Code: 100, Type: "OAuthException", Message: "(#100) Invalid parameter", Details: details}
}

func (f *Failure) answer(w http.ResponseWriter, r *http.Request) {
	if f.Hang > 0 {
		select {
		case <-time.After(f.Hang):
		case <-r.Context().Done():
			return
		}
	}
	if f.HTTPStatus == 0 {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Seconds())))
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.HTTPStatus)
		io.WriteString(w, f.Body)
		return
	}
	e := map[string]any{
		"message":    f.Message,
		"type":       f.Type,
		"code":       f.Code,
		"fbtrace_id": "A" + newWAMID()[6:20],
	}
	if f.Details != "" {
		e["error_data"] = map[string]string{"messaging_product": "whatsapp", "details": f.Details}
	}
	if f.Subcode != 0 {
		e["error_subcode"] = f.Subcode
	}
	writeJSON(w, f.HTTPStatus, map[string]any{"error": e})
}

// Meta's documented errors, with the HTTP status each comes with, its "(#code) title" message and its details.
var (
	Throughput = Failure{HTTPStatus: http.StatusTooManyRequests, Code: 130429, Type: "OAuthException",
		Message: "(#130429) Rate limit hit", Details: "Cloud API message throughput has been reached."}
	TooManyCalls = Failure{HTTPStatus: http.StatusTooManyRequests, Code: 4, Type: "OAuthException",
		Message: "(#4) Application request limit reached", Details: "The app has reached its API call rate limit."}
	AccountRateLimit = Failure{HTTPStatus: http.StatusTooManyRequests, Code: 80007, Type: "OAuthException",
		Message: "(#80007) Rate limit issues", Details: "The WhatsApp Business Account has reached its rate limit."}
	PairRateLimit = Failure{HTTPStatus: http.StatusBadRequest, Code: 131056, Type: "OAuthException",
		Message: "(#131056) (Business Account, Consumer Account) pair rate limit hit",
		Details: "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time."}
	SomethingWentWrong = Failure{HTTPStatus: http.StatusInternalServerError, Code: 131000, Type: "OAuthException",
		Message: "(#131000) Something went wrong", Details: "Message failed to send due to an unknown error."}
	ServiceUnavailable = Failure{HTTPStatus: http.StatusServiceUnavailable, Code: 131016, Type: "OAuthException",
		Message: "(#131016) Service unavailable", Details: "A service is temporarily unavailable."}
	Undeliverable = Failure{HTTPStatus: http.StatusBadRequest, Code: 131026, Type: "OAuthException",
		Message: "(#131026) Message undeliverable",
		Details: "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number, the recipient has not accepted our new Terms of Service and Privacy Policy, or the recipient is using an old WhatsApp version."}
	Reengagement = Failure{HTTPStatus: http.StatusBadRequest, Code: 131047, Type: "OAuthException",
		Message: "(#131047) Re-engagement message",
		Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}
	MarketingLimit = Failure{HTTPStatus: http.StatusBadRequest, Code: 131049, Type: "OAuthException",
		Message: "(#131049) This message was not delivered to maintain healthy ecosystem engagement.",
		Details: "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."}
	MarketingOptOut = Failure{HTTPStatus: http.StatusBadRequest, Code: 131050, Type: "OAuthException",
		Message: "(#131050) Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
		Details: "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."}
	TokenInvalid = Failure{HTTPStatus: http.StatusUnauthorized, Code: 190, Type: "OAuthException",
		Message: "Invalid OAuth access token - Cannot parse access token"}
	BadGateway = Failure{HTTPStatus: http.StatusBadGateway, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>"}
	Dropped    = Failure{}
)

// Hung holds a request for d, then drops it unanswered: a Graph API that stopped answering.
func Hung(d time.Duration) Failure { return Failure{Hang: d} }
