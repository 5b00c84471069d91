package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
	"github.com/optout-dev/optout/whatsapp"
)

// WhatsAppOptions are what RunWhatsApp works with. Zero fields take their defaults.
type WhatsAppOptions struct {
	Client  *whatsapp.Client // the Graph API to send through
	Limiter whatsapp.Limiter // paces each phone number's sends; one of the process's own when nil
	Poll    time.Duration    // how often to look for work that nobody rang about; DefaultWhatsAppPoll
}

// Defaults and bounds of the WhatsApp workers.
const (
	DefaultWhatsAppPoll = time.Second

	// sendLease is how long a claimed message is its sender's: long enough to send it, as the client bounds a call
	// by whatsapp.DefaultTimeout, and record the answer. A sender that dies holding messages leaves them to be sent
	// again once it runs out: that is the at-least-once.
	sendLease = whatsapp.DefaultTimeout + 10*time.Second

	// sendBudget is how long after its claim a message may still be sent: the rest of the lease is for the call and
	// its record. Messages claimed but not sent by then are released, and claimed again.
	sendBudget = sendLease - whatsapp.DefaultTimeout - 2*time.Second

	maxSendsInFlight = 128 // per phone number, waiting for their slot or sent
	maxSendBatch     = 500 // messages claimed at once, at most
	sendExpiry       = 24 * time.Hour
	accountPause     = time.Minute // before sending again after Meta refused the workspace's setup

	inboxLease        = time.Minute
	inboxConcurrency  = 16
	maxInboxAttempts  = 10
	maxStoreRetryWait = time.Minute
)

var (
	sendBackoff  = webhook.Exponential(200*time.Millisecond, 5*time.Minute)
	inboxBackoff = webhook.Exponential(time.Second, 10*time.Minute)
)

// wake rings a worker that sleeps between polls: a ring while it works makes it look again at once.
type wake chan struct{}

func newWake() wake { return make(wake, 1) }

func (w wake) ring() {
	select {
	case w <- struct{}{}:
	default: // rung already
	}
}

// RunWhatsApp runs the WhatsApp channel until ctx is done: it acts on what Meta's webhooks brought, applies template
// changes when they are due, and sends the outbox of every connected workspace. All its state is in the store, so
// instances share the work through leases and a restart loses nothing; at shutdown the sends in flight finish and are
// recorded.
func (s *Service) RunWhatsApp(ctx context.Context, o WhatsAppOptions) {
	if o.Limiter == nil {
		o.Limiter = whatsapp.NewLocalLimiter()
	}
	if o.Poll <= 0 {
		o.Poll = DefaultWhatsAppPoll
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.runInbox(ctx, o) })
	wg.Go(func() { s.runSender(ctx, o) })
	wg.Wait()
}

// runInbox acts on the inbox, a few users at a time and each user's events in order, and applies due template changes.
func (s *Service) runInbox(ctx context.Context, o WhatsAppOptions) {
	var inflight sync.WaitGroup
	defer inflight.Wait()
	slots := make(chan struct{}, inboxConcurrency)
	freed := newWake()
	failures := 0

	for {
		wait := o.Poll
		s.applyTemplateChanges(ctx)

		if free := cap(slots) - len(slots); free > 0 {
			items, err := s.store.ClaimInbox(ctx, s.now(), inboxLease, free)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				failures++
				wait = min(maxStoreRetryWait, inboxBackoff(failures))
				s.log.Error("claiming WhatsApp events failed", "error", err, "retry_in", wait)
			} else {
				failures = 0
			}
			for _, it := range items {
				slots <- struct{}{}
				inflight.Go(func() {
					defer func() { <-slots; freed.ring() }()
					s.actOn(context.WithoutCancel(ctx), it)
				})
			}
		}

		if !sleep(ctx, wait, s.inboxWake, freed) {
			return
		}
	}
}

// sleep waits for d or a ring of one of wakes, and returns false if ctx ended first.
func sleep(ctx context.Context, d time.Duration, wakes ...wake) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	var a, b wake // nil channels block forever
	if len(wakes) > 0 {
		a = wakes[0]
	}
	if len(wakes) > 1 {
		b = wakes[1]
	}
	select {
	case <-ctx.Done():
		return false
	case <-a:
	case <-b:
	case <-timer.C:
	}
	return true
}

// runSender sends each connected workspace's outbox, on a lane of its own per workspace, so that one workspace's
// large broadcast never holds another's replies back.
func (s *Service) runSender(ctx context.Context, o WhatsAppOptions) {
	var lanes sync.WaitGroup
	defer lanes.Wait()
	var mu sync.Mutex
	running := map[string]bool{}
	paused := map[string]pause{}
	ended := newWake()

	for {
		wait := o.Poll
		workspaces, err := s.store.OutboxWorkspaces(ctx, s.now())
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			wait = maxStoreRetryWait / 4
			s.log.Error("looking for messages to send failed", "error", err, "retry_in", wait)
		}
		for _, id := range workspaces {
			mu.Lock()
			busy, p := running[id], paused[id]
			if !busy && !p.holds(ctx, s, id) {
				running[id] = true
				delete(paused, id)
				lanes.Go(func() {
					p := s.lane(ctx, o, id)
					mu.Lock()
					delete(running, id)
					if !p.until.IsZero() {
						paused[id] = p
					}
					mu.Unlock()
					ended.ring()
				})
			}
			mu.Unlock()
		}
		if !sleep(ctx, wait, s.outboxWake, ended) {
			return
		}
	}
}

// pause holds a workspace's sending after Meta refused its setup, until a while has passed or the workspace has been
// changed, which is how its setup gets fixed.
type pause struct {
	until   time.Time
	version int64
}

func (p pause) holds(ctx context.Context, s *Service, id string) bool {
	if p.until.IsZero() || !time.Now().Before(p.until) {
		return false
	}
	w, err := s.workspace(ctx, id)
	return err == nil && w.Version == p.version
}

// lane sends a workspace's due messages at its phone number's throughput, until none are due. It returns a pause when
// Meta refused the workspace's setup. The next batch is claimed and decided while the current one is sent, so that
// the pace doesn't stop at each batch.
func (s *Service) lane(ctx context.Context, o WhatsAppOptions, id string) (p pause) {
	var inflight sync.WaitGroup
	slots := make(chan struct{}, maxSendsInFlight)
	var refused sync.Once
	account := make(chan struct{})
	var version int64
	defer func() {
		inflight.Wait()
		select {
		case <-account:
			p = pause{until: time.Now().Add(accountPause), version: version}
		default:
		}
	}()

	claiming, stopClaiming := context.WithCancel(ctx)
	batches := make(chan *sendBatch)
	go s.claimBatches(claiming, id, batches)
	defer func() {
		stopClaiming()
		for b := range batches {
			s.release(b.msgs)
		}
	}()

	for b := range batches {
		w, rate := b.w, *b.w.whatsapp.Throughput
		version = w.Version
		for i, m := range b.msgs {
			select {
			case <-ctx.Done():
				s.release(b.msgs[i:])
				return pause{}
			case <-account:
				s.release(b.msgs[i:])
				return pause{}
			case slots <- struct{}{}:
			}
			// each send waits for its slot itself, so that the waits, which are calls to Redis when instances share
			// the pace, overlap rather than queue
			inflight.Go(func() {
				defer func() { <-slots }()
				err := o.Limiter.Wait(ctx, w.whatsapp.PhoneNumberID, rate)
				select {
				case <-account:
					err = errors.New("paused")
				default:
				}
				if err != nil || time.Since(b.claimed) > sendBudget {
					s.release([]*store.OutgoingMsg{m})
					return
				}
				if s.send(context.WithoutCancel(ctx), o.Client, w, m) {
					refused.Do(func() { close(account) })
				}
			})
		}
	}
	return pause{}
}

// sendBatch is messages claimed together, with the workspace as it was then.
type sendBatch struct {
	w       *workspace
	msgs    []*store.OutgoingMsg
	claimed time.Time
}

// claimBatches claims the workspace's due messages a second's worth at a time, decides them again, and hands over
// those to send, until none are due; it releases a batch that no one takes before ctx ends.
func (s *Service) claimBatches(ctx context.Context, id string, out chan<- *sendBatch) {
	defer close(out)
	for {
		w, err := s.workspace(ctx, id)
		if err != nil || w.whatsapp == nil {
			return
		}
		claimed := time.Now()
		msgs, err := s.store.ClaimOutbox(ctx, w.ID, s.now(), sendLease, min(maxSendBatch, int(math.Ceil(*w.whatsapp.Throughput))))
		if err != nil || len(msgs) == 0 {
			if err != nil && ctx.Err() == nil {
				s.log.Error("claiming messages to send failed", "workspace", w.ID, "error", err)
			}
			return
		}
		if msgs, err = s.recheck(ctx, w, msgs); err != nil {
			if ctx.Err() == nil {
				s.log.Error("reading the contacts of messages to send failed", "workspace", w.ID, "error", err)
			}
			return
		}
		if len(msgs) == 0 {
			continue
		}
		select {
		case out <- &sendBatch{w: w, msgs: msgs, claimed: claimed}:
		case <-ctx.Done():
			s.release(msgs)
			return
		}
	}
}

// release gives up the leases of claimed messages that weren't sent, so that they go at once, not when the lease ends.
func (s *Service) release(msgs []*store.OutgoingMsg) {
	ids := make([]int64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.ReleaseOutbox(ctx, ids); err != nil {
		s.log.Warn("releasing messages failed: they go when their lease runs out", "error", err)
	}
}

// recheck decides the claimed messages again, with their contacts as they are now: a contact who opted out after a
// broadcast queued its message, or whose window closed since a reply was queued, isn't sent it. It records the
// skipped messages and returns the others. Without the contacts it decides none, and releases them.
func (s *Service) recheck(ctx context.Context, w *workspace, msgs []*store.OutgoingMsg) ([]*store.OutgoingMsg, error) {
	list := make([]urns.URN, len(msgs))
	for i, m := range msgs {
		list[i] = m.URN
	}
	contacts, err := s.store.ContactsByURN(ctx, w.ID, list)
	if err != nil {
		s.release(msgs)
		return nil, err
	}
	byURN := make(map[urns.URN]*store.Contact, len(contacts))
	for _, c := range contacts {
		byURN[c.URN] = c
	}

	now := s.now().UTC()
	send := msgs[:0]
	for _, m := range msgs {
		status, lastInbound := consent.Undefined, time.Time{}
		if c := byURN[m.URN]; c != nil {
			status, lastInbound = c.OptStatus, c.LastInboundOn
		}
		msg := engine.Message{Origin: engine.Origin(m.Source), Template: m.Template, Category: m.Category}
		if d := engine.Decide(w.cfg, status, lastInbound, now, msg); !d.Send {
			s.record(ctx, claimedUpdate(m, store.OutboxSkipped, string(d.Reason), "", now))
			continue
		}
		send = append(send, m)
	}
	return send, nil
}

// send sends a message and records what came of it. It returns true when Meta refused the workspace's setup, which
// pauses the workspace's sending.
func (s *Service) send(ctx context.Context, client *whatsapp.Client, w *workspace, m *store.OutgoingMsg) bool {
	out, err := outgoing(w, m)
	if err != nil {
		s.record(ctx, claimedUpdate(m, store.OutboxFailed, ReasonNotWhatsApp, err.Error(), s.now().UTC()))
		return false
	}
	sent, err := client.Send(ctx, w.whatsapp.PhoneNumberID, w.whatsapp.AccessToken, out)
	now := s.now().UTC()
	if err == nil {
		accepted := claimedUpdate(m, store.OutboxAccepted, "", "", now)
		accepted.WAMID = sent.ID
		s.record(ctx, accepted)
		return false
	}

	log := s.log.With("workspace", w.ID, "message", m.ID, "attempt", m.Attempts)
	retry := claimedUpdate(m, store.OutboxQueued, "", err.Error(), now)
	var metaErr *whatsapp.Error
	errors.As(err, &metaErr)
	switch class := whatsapp.ClassOf(err); {
	case class == whatsapp.Account:
		log.Error("Meta refused the workspace's WhatsApp setup: sending waits for it to be fixed", "error", err)
		retry.NextAttempt = now.Add(accountPause)
		s.record(ctx, retry)
		return true
	case (class == whatsapp.Throttled || class == whatsapp.Temporary) && now.Sub(m.CreatedOn) < sendExpiry:
		wait := max(metaErr.RetryAfter(), sendBackoff(m.Attempts))
		retry.NextAttempt = now.Add(wait)
		log.Warn("sending a WhatsApp message failed, retrying", "error", err, "next", retry.NextAttempt)
		s.record(ctx, retry)
		time.AfterFunc(wait, s.outboxWake.ring) // rather than wait for the next poll, as the lane may be done by then
	case class == whatsapp.Throttled || class == whatsapp.Temporary:
		log.Error("sending a WhatsApp message failed for a day: given up", "error", err)
		s.record(ctx, claimedUpdate(m, store.OutboxFailed, ReasonExpired, err.Error(), now))
	default:
		code := whatsapp.NoCode
		if metaErr != nil {
			code = metaErr.Code
		}
		log.Warn("Meta refused a WhatsApp message", "error", err)
		if err := s.failed(ctx, w, m, code, err.Error(), "", ""); err != nil {
			log.Error("recording a refused WhatsApp message failed", "error", err)
		}
	}
	return false
}

// claimedUpdate is an update of a message that the sender claimed, which is queued until the update applies.
func claimedUpdate(m *store.OutgoingMsg, status store.OutboxStatus, reason, err string, at time.Time) *store.OutgoingUpdate {
	return &store.OutgoingUpdate{ID: m.ID, From: before(store.OutboxAccepted), Status: status, Reason: reason, Error: err, At: at}
}

// record applies an update, trying again while the store fails, as long as the message's lease lasts: after that it
// is sent again, which is the at-least-once.
func (s *Service) record(ctx context.Context, u *store.OutgoingUpdate) {
	ctx, cancel := context.WithTimeout(ctx, sendLease)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		_, err := s.store.UpdateOutgoing(ctx, u)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			s.log.Error("recording a WhatsApp message failed", "message", u.ID, "status", u.Status, "error", err)
			return
		case <-time.After(wait):
		}
	}
}

// outgoing is the Cloud API's message for a queued one: to the contact's WhatsApp number, with its outbox ID as the
// callback data, so that its statuses find it even if its wamid was never recorded.
func outgoing(w *workspace, m *store.OutgoingMsg) (*whatsapp.OutgoingMessage, error) {
	if scheme := m.URN.Scheme(); scheme != urns.WhatsApp.Prefix && scheme != urns.Phone.Prefix {
		return nil, fmt.Errorf("%s is not a WhatsApp number", m.URN)
	}
	// a contact is keyed by its number in international form, which the Cloud API takes as it is
	out := &whatsapp.OutgoingMessage{To: m.URN.Path(), CallbackData: callbackPrefix + strconv.FormatInt(m.ID, 10)}
	if m.Template == "" {
		out.Text = &whatsapp.Text{Body: m.Text}
		return out, nil
	}
	language := m.Language
	if language == "" {
		language = templateLanguage(w.cfg.Keywords.DefaultLanguage())
	}
	out.Template = &whatsapp.Template{Name: m.Template, Language: whatsapp.Language{Code: language}}
	if len(m.Components) > 0 {
		if err := json.Unmarshal(m.Components, &out.Template.Components); err != nil {
			return nil, fmt.Errorf("reading the template's components: %w", err)
		}
	}
	return out, nil
}

// metaLanguages are Meta's template language codes of the default languages, for templates sent without one.
var metaLanguages = map[i18n.Language]string{"por": "pt_BR", "spa": "es", "eng": "en"}

// templateLanguage is the template language of a workspace language: Meta's code for it, or its two letters.
func templateLanguage(lang i18n.Language) string {
	if code, ok := metaLanguages[lang]; ok {
		return code
	}
	return lang.ISO639_1()
}
