package engine

import (
	"context"

	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"

	"github.com/optout-dev/optout/keywords"
)

// Interceptor decides, for each incoming message, before any flow of the contact runs, whether the message is an
// opt-out or opt-in keyword. A host calls it first for every message, so no flow, however it was built, can swallow
// an opt-out.
type Interceptor struct {
	eng  flows.Engine
	flow *assets.FlowReference
}

// NewInterceptor creates an interceptor that runs the system flow on the given engine.
func NewInterceptor(eng flows.Engine) *Interceptor {
	return &Interceptor{eng: eng, flow: SystemFlow()}
}

// Result is what the interceptor decided about a message.
type Result struct {
	// Match is the keyword the message is, with Intent keywords.None when it is none.
	Match keywords.Match

	// Session and Events are the session of the system flow that handled a keyword and what it did: field and
	// group changes, the consent event and the reply. The host persists them as it would any session's.
	Session flows.Session
	Events  []flows.Event
}

// Handled returns whether the interceptor took the message. When it did not, the host resumes the contact's waiting
// session or starts a flow as usual.
func (r Result) Handled() bool { return r.Session != nil }

// Intercept checks the message against the workspace's keywords and, on a keyword, runs the system flow for the
// contact, which it modifies. Most messages are not keywords: for them it does no I/O and allocates nothing.
func (i *Interceptor) Intercept(ctx context.Context, sa flows.SessionAssets, env envs.Environment, contact *flows.Contact, msg *events.MsgReceived) (Result, error) {
	kw, err := MatchKeyword(sa, contact, msg, i.flow)
	if err != nil || kw.Trigger == nil {
		return Result{Match: kw.Match}, err
	}

	session, sprint, err := i.eng.NewSession(ctx, sa, env, contact, kw.Trigger, nil)
	if err != nil {
		return Result{Match: kw.Match}, err
	}
	return Result{Match: kw.Match, Session: session, Events: sprint.Events()}, nil
}
