package whatsapp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Code is an error code of the Cloud API, as the Graph API answers it (error.code) and as status webhooks report it
// (statuses[].errors[].code). Meta asks integrations to act on codes, never on titles or HTTP statuses, as titles
// are being deprecated (error codes reference, "Error handling").
type Code int

// NoCode is the code of an error that came without one: a network failure, or a body that was not a Graph error.
// It is not 0, which is a code of Meta's own (AuthException).
const NoCode Code = -1

// The codes the service acts on by name. Every one is in Meta's error codes reference.
const (
	CodeAuth               Code = 0      // AuthException: the access token is expired or invalidated
	CodeTooManyCalls       Code = 4      // the app reached its API call rate limit
	CodeTokenExpired       Code = 190    // access token has expired
	CodeAccountRateLimit   Code = 80007  // the WhatsApp Business Account reached its rate limit
	CodeThroughput         Code = 130429 // Cloud API message throughput reached
	CodeSomethingWentWrong Code = 131000 // message failed to send because of an unknown error
	CodeServiceUnavailable Code = 131016 // a service is temporarily unavailable
	CodeUndeliverable      Code = 131026 // message undeliverable: not on WhatsApp, old client, terms not accepted...
	CodeReengagement       Code = 131047 // more than 24 hours since the user last wrote: only templates may be sent
	CodeSpamRateLimit      Code = 131048 // the number's quality-based limit: too many messages blocked or reported
	CodeMarketingLimit     Code = 131049 // per-user marketing limit: "not delivered to maintain healthy ecosystem engagement"
	CodeMarketingOptOut    Code = 131050 // the user stopped marketing messages from this business
	CodePairRateLimit      Code = 131056 // too many messages from this business number to this user in a short time
	CodeMaintenance        Code = 131057 // the business account is in maintenance mode (e.g. a throughput upgrade)
)

// Class says what a failed send calls for.
type Class int

const (
	// Permanent: this message cannot be sent as it is. Retrying it only repeats the error.
	Permanent Class = iota
	// Throttled: a rate limit of Meta's was hit; retry after a pause, and send slower.
	Throttled
	// Temporary: Meta or the network failed; retry with backoff.
	Temporary
	// Later: Meta refused the message for now (the per-user marketing limit); retry no sooner than RetryAfter.
	Later
	// Account: the workspace's setup is wrong (token, permissions, a locked or restricted account). Every message
	// would fail the same way until someone fixes it, so the messages are neither failed nor retried at once: the
	// workspace's sending waits for the fix.
	Account
)

// Retryable reports whether a message that failed with this class may succeed if sent again unchanged.
func (c Class) Retryable() bool { return c == Throttled || c == Temporary || c == Later }

func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case Throttled:
		return "throttled"
	case Temporary:
		return "temporary"
	case Later:
		return "later"
	case Account:
		return "account"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// MarketingLimitDelay is the least time Meta asks to wait before sending a marketing template again to a user who
// reached the per-user marketing limit (131049): "wait at least 24 hours before attempting to resend"
// (Per-user marketing template message limits, "Retry limits", updated Jun 17, 2026).
const MarketingLimitDelay = 24 * time.Hour

// classes is Meta's error codes reference, read as what each code calls for. Codes not here are classified by the
// HTTP status that came with them (see Error.Class), or as Permanent when none did (a status webhook's error).
//
//   - Throttled: the "Throttling errors" table (4, 80007, 130429, 131048, 131056), whose solutions all say to try
//     again later or send less often. 133016 is in that table too, but it limits registration, not messages.
//   - Temporary: code 2 "API Service: temporary due to downtime or due to being overloaded", 131000 "Something went
//     wrong", 131016 "Service unavailable" and 131057 "Account in maintenance mode".
//   - Later: 131049, see MarketingLimitDelay.
//   - Account: the "Authorization errors" table (0, 3, 10, 190, 200-299) and the integrity errors 368 "Temporarily
//     blocked for policies violations" and 131031 "Account has been locked", plus 131042 "Business eligibility
//     payment issue": none is about the message, all are about the sender.
//
// 131026, 131047 and 131050 are Permanent for the message; the service acts on them by name.
var classes = map[Code]Class{
	CodeTooManyCalls: Throttled, CodeAccountRateLimit: Throttled, CodeThroughput: Throttled,
	CodeSpamRateLimit: Throttled, CodePairRateLimit: Throttled,

	2: Temporary, CodeSomethingWentWrong: Temporary, CodeServiceUnavailable: Temporary, CodeMaintenance: Temporary,

	CodeMarketingLimit: Later,

	CodeAuth: Account, 3: Account, 10: Account, CodeTokenExpired: Account, 368: Account, 131031: Account, 131042: Account,
}

// Class returns what an error with this code calls for, and whether Meta's reference says so: false for a code it
// doesn't classify, which is then Permanent.
func (c Code) Class() (Class, bool) {
	if class, ok := classes[c]; ok {
		return class, true
	}
	if c >= 200 && c <= 299 { // "API Permission", a range in Meta's table
		return Account, true
	}
	return Permanent, false
}

// MarketingOptOut reports whether the code says the user stopped marketing messages from the business (131050).
func (c Code) MarketingOptOut() bool { return c == CodeMarketingOptOut }

// WindowClosed reports whether the code says the customer service window is closed (131047, "Re-engagement
// message"): only a template may be sent until the user writes again.
func (c Code) WindowClosed() bool { return c == CodeReengagement }

// Undeliverable reports whether the code says the message can't be delivered to this user (131026).
func (c Code) Undeliverable() bool { return c == CodeUndeliverable }

// MarketingLimit reports whether the code says the user reached the per-user marketing limit (131049).
func (c Code) MarketingLimit() bool { return c == CodeMarketingLimit }

// Error is a failed call to the Graph API: the error object Meta answered, or the HTTP status or network failure that
// came instead of one.
type Error struct {
	HTTPStatus int    // 0 if no response arrived
	Code       Code   // error.code, or NoCode
	Subcode    int    // error.error_subcode, deprecated by Meta since v16.0 but still sent for some errors
	Type       string // error.type, e.g. OAuthException
	Message    string // error.message, whose "(#code) title" prefix Meta says not to rely on
	Details    string // error.error_data.details, Meta's explanation of the likely cause
	FBTraceID  string // error.fbtrace_id, what Meta's support asks for

	retryAfter time.Duration // from a Retry-After header
	err        error         // the network failure, or why the body couldn't be read
}

// Error describes the failure without the request, so it never holds the access token.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("whatsapp: ")
	switch {
	case e.Code != NoCode:
		fmt.Fprintf(&b, "error %d", e.Code)
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
		if e.Details != "" {
			fmt.Fprintf(&b, " (%s)", e.Details)
		}
		if e.HTTPStatus != 0 {
			fmt.Fprintf(&b, " [HTTP %d]", e.HTTPStatus)
		}
		if e.FBTraceID != "" {
			fmt.Fprintf(&b, " fbtrace_id=%s", e.FBTraceID)
		}
	case e.HTTPStatus != 0:
		fmt.Fprintf(&b, "HTTP %d %s", e.HTTPStatus, http.StatusText(e.HTTPStatus))
	default:
		b.WriteString("no response")
	}
	if e.err != nil {
		fmt.Fprintf(&b, ": %s", e.err)
	}
	return b.String()
}

// Unwrap returns the network failure behind the error, if any.
func (e *Error) Unwrap() error { return e.err }

// Class returns what the failure calls for: the class Meta's reference gives its code, else one from the HTTP status
// (429 throttled, 5xx temporary, other 4xx permanent), and Temporary when no response arrived at all.
func (e *Error) Class() Class {
	if class, known := e.Code.Class(); known {
		return class
	}
	switch {
	case e.HTTPStatus == 0:
		return Temporary
	case e.HTTPStatus == http.StatusTooManyRequests:
		return Throttled
	case e.HTTPStatus >= 500:
		return Temporary
	case e.HTTPStatus >= 200 && e.HTTPStatus < 300:
		// Meta accepted something but its answer had no message ID: sending again is how at-least-once gets there
		return Temporary
	}
	return Permanent
}

// Retryable reports whether sending the message again unchanged may succeed.
func (e *Error) Retryable() bool { return e.Class().Retryable() }

// Permanent reports whether the message cannot be sent as it is.
func (e *Error) Permanent() bool { return e.Class() == Permanent }

// RetryAfter returns the least time to wait before sending again: MarketingLimitDelay after 131049, what a
// Retry-After header said after a throttled request, else 0, leaving the pace to the caller's backoff.
func (e *Error) RetryAfter() time.Duration {
	switch e.Class() {
	case Later:
		return MarketingLimitDelay
	case Throttled:
		return e.retryAfter
	}
	return 0
}

// ClassOf returns the class of an error from Client.Send: an *Error's, or Permanent for any other error, which is a
// message that was refused before it was sent.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class()
	}
	return Permanent
}
