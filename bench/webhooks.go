package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

// webhookWorkers is how many deliveries the service under bench makes at once, and the plain loop it is measured
// against too: the service's default.
const webhookWorkers = 8

func runWebhooks(ctx context.Context, r *run) error {
	for _, t := range r.targets {
		if err := r.webhooks(ctx, t); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

func (r *run) webhooks(ctx context.Context, t *target) error {
	// events are committed to the store directly, where the worker finds them when it next looks: at most a second
	s, err := r.startServe(ctx, t, fmt.Sprintf("OPTOUT_WEBHOOK_WORKERS=%d", webhookWorkers), "OPTOUT_WEBHOOK_POLL=1s")
	if err != nil {
		return err
	}
	defer s.stop()
	ws, err := r.createWorkspace(ctx, s, "webhooks", "ok")
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, t.dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	stored, err := st.GetWorkspace(ctx, ws.ID)
	if err != nil {
		return err
	}

	n := r.sizes.webhookEvents
	res := &Result{
		Name: "webhooks/" + t.name,
		What: fmt.Sprintf("Deliveries a second of %s webhook events (opt-outs of as many contacts) to a receiver on loopback "+
			"that checks each signature, by optout serve's worker on %s (%d deliveries at once), the events committed "+
			"to its store in one transaction; against a plain loop of the same POSTs (the same bodies, signed the same "+
			"way) from %d goroutines of one process to the same receiver. Both rates run from the first delivery the "+
			"receiver got to the last.", count(n), t.label, webhookWorkers, webhookWorkers),
		Measured: Side{Label: "optout serve's worker", Unit: "deliveries/s"},
		Baseline: &Side{Label: "plain loop", Unit: "deliveries/s"},
		Target:   []Criterion{{ofRatio, ">=", 0.5}},
		Notes: []string{"CPU per delivery is CPU time over the deliveries, from when the events were committed (or the " +
			"loop started) to the last delivery: the machine's is every core's busy time, the kernel's loopback work " +
			"included, which shows how many deliveries a second the two cores could carry at most either way."},
	}
	err = r.repeat(func(int) (bool, error) {
		events, err := newEvents(stored, n)
		if err != nil {
			return false, err
		}
		reached := r.receiver.expect(ws.ID, n)
		if err := st.Commit(ctx, &store.Change{Workspace: ws.ID, Webhooks: events}); err != nil {
			return false, err
		}
		before := takeCPU(s.pid())
		worker, err := r.deliveryRate(ctx, ws, reached, n)
		if err != nil {
			return false, fmt.Errorf("the service's deliveries: %w", err)
		}
		cpu := before.to(takeCPU(s.pid()))

		reached = r.receiver.expect(ws.ID, n)
		before = takeCPU(0)
		if err := plainLoop(ctx, r.receiver.url("ok", ws.ID), events); err != nil {
			return false, err
		}
		loop, err := r.deliveryRate(ctx, ws, reached, n)
		if err != nil {
			return false, fmt.Errorf("the plain loop: %w", err)
		}
		loopCPU := before.to(takeCPU(0))
		res.pair(worker, loop)
		res.metric("machine CPU per delivery, optout serve's worker", "ms").add(cpu.perOp(cpu.busy, n))
		res.metric("optout serve CPU per delivery", "ms").add(cpu.perOp(cpu.serve, n))
		if t.redis != "" {
			res.metric("PostgreSQL CPU per delivery", "ms").add(cpu.perOp(cpu.db, n))
		}
		res.metric("harness CPU per delivery (the receiver)", "ms").add(cpu.perOp(cpu.harness, n))
		res.metric("machine CPU per delivery, plain loop", "ms").add(loopCPU.perOp(loopCPU.busy, n))
		return false, nil
	})
	if err != nil {
		return err
	}
	r.add(res)
	return nil
}

// newEvents makes n webhook events of the workspace, the opt-outs of as many contacts, as the service makes them.
func newEvents(ws *store.Workspace, n int) ([]*store.WebhookEvent, error) {
	now := time.Now()
	events := make([]*store.WebhookEvent, n)
	for i := range events {
		var err error
		events[i], err = webhook.NewEvent(ws, &store.ConsentEvent{
			ContactUUID: flows.ContactUUID(uuids.NewV4()), URN: "whatsapp:5561987650000", Before: consent.Undefined,
			After: consent.OptedOut, Keyword: "parar", Language: "por", MsgUUID: flows.InputUUID(uuids.NewV4()),
			Source: store.SourceKeyword, OccurredOn: now,
		}, now)
		if err != nil {
			return nil, err
		}
	}
	return events, nil
}

// deliveryRate waits for the n deliveries of the workspace the receiver expects, and returns their rate from the
// first to the last.
func (r *run) deliveryRate(ctx context.Context, ws *workspace, reached <-chan struct{}, n int) (float64, error) {
	if err := waitFor(ctx, reached, max(2*time.Minute, time.Duration(n)*20*time.Millisecond), fmt.Sprintf("%d deliveries", n)); err != nil {
		return 0, err
	}
	count, first, last, bad := r.receiver.tally(ws.ID)
	if bad > 0 {
		return 0, fmt.Errorf("%d deliveries had a wrong signature", bad)
	}
	return float64(count-1) / last.Sub(first).Seconds(), nil
}

// plainLoop posts the events to url as the worker does, from webhookWorkers goroutines with a connection each.
func plainLoop(ctx context.Context, url string, events []*store.WebhookEvent) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: webhookWorkers}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	var next atomic.Int64
	return each(ctx, webhookWorkers, 1, func(ctx context.Context, _, _ int) error {
		for i := next.Add(1) - 1; i < int64(len(events)); i = next.Add(1) - 1 {
			ev := events[i]
			req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(ev.Body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", webhook.UserAgent)
			req.Header.Set("X-Optout-Event-Id", ev.ID)
			req.Header.Set("X-Optout-Signature", webhook.Sign(webhookSecret, ev.Body))
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("the receiver answered %d", resp.StatusCode)
			}
		}
		return nil
	})
}

func runFairness(ctx context.Context, r *run) error {
	for _, t := range r.targets {
		if err := r.fairness(ctx, t); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

// backlog is how many events the stuck workspace has queued when the other's event is sent.
const backlog = 100

func (r *run) fairness(ctx context.Context, t *target) error {
	s, err := r.startServe(ctx, t, fmt.Sprintf("OPTOUT_WEBHOOK_WORKERS=%d", webhookWorkers))
	if err != nil {
		return err
	}
	defer s.stop()
	ok, err := r.createWorkspace(ctx, s, "fair-ok", "ok")
	if err != nil {
		return err
	}
	limit := r.sizes.fairnessCap

	for k, endpoint := range []string{"hang", "slow"} {
		other := newSender(ok, true, 52+2*k, 1)
		how := "never answers (until the repeat ends)"
		if endpoint == "slow" {
			how = fmt.Sprintf("answers after %s", slowAnswer)
		}
		res := &Result{
			Name: "webhooks/fairness/" + endpoint + "/" + t.name,
			What: fmt.Sprintf("How long a workspace's webhook event waits to be delivered, from the sending of its message to its "+
				"arrival at the receiver, on %s, while another workspace, whose endpoint %s, has %d events queued (opt-outs "+
				"of as many contacts, sent just before); against the same wait with nothing else queued. The wait is "+
				"cut at %s.", t.label, how, backlog, limit),
			Measured: Side{Label: "behind a stuck workspace", Unit: "s"},
			Baseline: &Side{Label: "alone", Unit: "s"},
			Target:   []Criterion{{ofMeasured, "<=", 1}},
		}
		err := r.repeat(func(i int) (bool, error) {
			alone, _, err := r.eventDelay(ctx, other, limit)
			if err != nil {
				return false, err
			}
			stuck, err := r.createWorkspace(ctx, s, "fair-"+endpoint, endpoint)
			if err != nil {
				return false, err
			}
			queue := newSender(stuck, true, 53, backlog/4)
			if err := each(ctx, 4, backlog/4, func(ctx context.Context, conn, _ int) error { return queue.send(ctx, conn) }); err != nil {
				return false, err
			}
			// the stuck endpoint holds the worker's first deliveries before the other event is sent
			for wait := time.Now(); r.receiver.holding.Load() == 0 && time.Since(wait) < 5*time.Second; {
				if err := sleep(ctx, 10*time.Millisecond); err != nil {
					return false, err
				}
			}
			held := r.receiver.holding.Load()
			behind, capped, err := r.eventDelay(ctx, other, limit)
			if err != nil {
				return false, err
			}
			res.pair(behind, alone)
			res.metric("deliveries held by the stuck endpoint when the event was sent", "requests").add(float64(held))
			if capped {
				res.Notes = append(res.Notes, fmt.Sprintf("Repeat %d: the event had not arrived after %s, the cut; further repeats would only reach it again.", i+1, limit))
			}
			return capped, r.unstick(ctx, s, stuck, ok)
		})
		if err != nil {
			return err
		}
		r.add(res)
	}
	return nil
}

// eventDelay sends a keyword message, and returns how long its webhook event took to arrive after the message was
// sent, limit and true if it didn't arrive within it. The event exists once the message is committed, before the
// answer is written, and a worker that delivers at once can deliver it before the answer is read.
func (r *run) eventDelay(ctx context.Context, sd *sender, limit time.Duration) (float64, bool, error) {
	msg := string(uuids.NewV4())
	arrived, unwatch := r.receiver.watch(msg)
	defer unwatch()
	sent := time.Now()
	if err := sd.sendUUID(ctx, 0, msg); err != nil {
		return 0, false, err
	}
	select {
	case at := <-arrived:
		return at.Sub(sent).Seconds(), false, nil
	case <-time.After(limit):
		return limit.Seconds(), true, nil
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
}

// unstick points the stuck workspace's webhook at the receiver's /ok, answers what its endpoint holds, and waits
// until its events and the other workspace's are all delivered, so that the next repeat starts with nothing queued.
func (r *run) unstick(ctx context.Context, s *server, stuck, other *workspace) error {
	body := map[string]any{"name": stuck.ID, "webhook": map[string]string{"url": r.receiver.url("ok", stuck.ID), "secret": webhookSecret}}
	if err := r.admin(s).call(ctx, "PUT", stuck.path(""), body, http.StatusOK, nil); err != nil {
		return err
	}
	r.receiver.release()
	for _, ws := range []*workspace{stuck, other} {
		if err := drain(ctx, ws); err != nil {
			return err
		}
	}
	for r.receiver.holding.Load() > 0 {
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}
