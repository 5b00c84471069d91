// Package service is the opt-out service's core: it handles incoming messages (the interceptor first, then the
// contact's flows), changes consent on request, decides broadcasts and fires campaign events, and writes each of
// these as one change to the store, with the audit rows, webhook events and messages it causes. The HTTP API and
// the command line are thin layers over it.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/services/webhooks"

	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/metrics"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

// Coordinator is what the service shares with the other instances on the same store: cluster.Coordinator.
type Coordinator interface {
	LockContact(ctx context.Context, workspace string, urn urns.URN) (unlock func(), err error)
}

// Options are what a Service is built from.
type Options struct {
	Store            store.Store
	Cluster          Coordinator
	Policy           *webhook.Policy // what webhook URLs may be, for workspaces and for flows' webhook calls
	Nudge            func()          // wakes the webhook worker after events are committed; may be nil
	Metrics          *metrics.Registry
	Log              *slog.Logger
	Now              func() time.Time // nil for time.Now
	CampaignInterval time.Duration    // how often RunCampaigns looks for due campaign events; default a minute
}

// Service is the opt-out service. It is safe for concurrent use.
type Service struct {
	store            store.Store
	cluster          Coordinator
	policy           *webhook.Policy
	nudge            func()
	log              *slog.Logger
	now              func() time.Time
	campaignInterval time.Duration
	eng              flows.Engine
	interceptor      *engine.Interceptor

	messages  *metrics.Counter
	decisions *metrics.Counter

	inboxWake, outboxWake wake // ring the WhatsApp workers when there is work for them

	mu         sync.Mutex
	workspaces map[string]*workspace // compiled, by ID, rebuilt when the stored version changes
}

// New creates a service.
func New(o Options) *Service {
	s := &Service{
		store:            o.Store,
		cluster:          o.Cluster,
		policy:           o.Policy,
		nudge:            o.Nudge,
		log:              o.Log,
		now:              o.Now,
		campaignInterval: o.CampaignInterval,
		workspaces:       map[string]*workspace{},
		inboxWake:        newWake(),
		outboxWake:       newWake(),
		messages:         o.Metrics.NewCounter("optout_messages_total", "Incoming messages, by the intent the interceptor found in them (none for all others).", "intent"),
		decisions:        o.Metrics.NewCounter("optout_decisions_total", "Messages decided for sending, by their origin (reply, broadcast, campaign), what was decided and why.", "kind", "decision", "reason"),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.nudge == nil {
		s.nudge = func() {}
	}
	if s.campaignInterval == 0 {
		s.campaignInterval = time.Minute
	}

	// flows' own webhook calls go through the same guarded client as the business's notifications
	s.eng = engine.NewBuilder().
		WithHTTPClient(o.Policy.Client(10 * time.Second)).
		WithWebhookServiceFactory(webhooks.NewServiceFactory(map[string]string{"User-Agent": "optout"}, 10000)).
		Build()
	s.interceptor = engine.NewInterceptor(s.eng)
	return s
}

// storeError turns an error of the store into one the API can answer: 503 when the database can't be reached, so
// that clients retry, and the error as it is otherwise.
func storeError(err error) error {
	if store.IsUnavailable(err) {
		return &Error{Kind: Unavailable, Err: fmt.Errorf("the database is unavailable, try again later (%w)", err)}
	}
	return err
}
