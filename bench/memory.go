package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// soakConns is the concurrency of the soak: half of the clients send keywords, half messages that start a flow.
const soakConns = 16

// soakGrowth is the most the resident set may grow over the soak: a process that doesn't leak still moves with
// the garbage collector's cycles.
const soakGrowth = 1.1

func runMemory(ctx context.Context, r *run) error {
	type soak struct {
		t       *target
		s       *server
		ws      *workspace
		senders [2]*sender
	}
	var soaks []*soak
	defer func() {
		for _, sk := range soaks {
			sk.s.stop()
		}
	}()
	for _, t := range r.targets {
		s, err := r.startServe(ctx, t)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		sk := &soak{t: t, s: s}
		soaks = append(soaks, sk)
		ws, err := r.messageWorkspace(ctx, s, "memory")
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if err := sleep(ctx, 2*time.Second); err != nil {
			return err
		}
		rss, _, err := s.memory()
		if err != nil {
			return err
		}
		r.add(&Result{
			Name: "memory/idle/" + t.name,
			What: fmt.Sprintf("The resident set (VmRSS) of optout serve on %s, started with a workspace that has a webhook "+
				"and imported a flow, 2 seconds after, with nothing to do.", t.label),
			Measured: Side{Label: "idle optout serve", Unit: "MiB", Values: []float64{mib(rss)}},
		})
		sk.ws = ws
		sk.senders = [2]*sender{newSender(ws, true, 23, r.sizes.contactsPerConn), newSender(ws, false, 33, r.sizes.contactsPerConn)}
		for _, sd := range sk.senders {
			if err := sd.prewarm(ctx, soakConns/2); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
	}

	// the stores soak at once, so that the soak takes its length once: it measures memory, which doesn't need the
	// machine to itself as rates do
	warm := max(r.opts.Soak/10, r.sizes.soakSample)
	var wg sync.WaitGroup
	errs := make([]error, len(soaks))
	results := make([]*Result, len(soaks))
	for i, sk := range soaks {
		wg.Go(func() {
			results[i], errs[i] = r.soak(ctx, sk.t, sk.s, sk.senders, warm)
		})
	}
	wg.Wait()
	for i, res := range results {
		if errs[i] != nil {
			return fmt.Errorf("%s: %w", soaks[i].t.name, errs[i])
		}
		r.add(res)
	}
	for _, sk := range soaks {
		if err := drain(ctx, sk.ws); err != nil {
			return err
		}
	}
	return nil
}

// soak sends keywords and flow messages from soakConns clients for Options.Soak, sampling the service's resident
// set, and compares the last sample with the one taken when warm had passed.
func (r *run) soak(ctx context.Context, t *target, s *server, senders [2]*sender, warm time.Duration) (*Result, error) {
	res := &Result{
		Name: "memory/soak/" + t.name,
		What: fmt.Sprintf("The resident set (VmRSS) of optout serve on %s over %s of messages from %d clients, half "+
			"keywords and half messages that start a flow, sampled every %s: the last sample against the one taken "+
			"%s in, once warm. The soaks of the stores run at the same time. Not repeated.",
			t.label, r.opts.Soak, soakConns, r.sizes.soakSample, warm),
		Measured: Side{Label: "RSS at the end", Unit: "MiB"},
		Baseline: &Side{Label: "RSS once warm", Unit: "MiB"},
		Target:   []Criterion{{ofRatio, "<=", soakGrowth}},
	}
	if err := s.resetPeak(); err != nil {
		return nil, err
	}

	var samples []float64
	var warmRSS float64
	sampled := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		started := time.Now()
		ticker := time.NewTicker(r.sizes.soakSample)
		defer ticker.Stop()
		for {
			select {
			case <-stop:
				sampled <- nil
				return
			case <-ticker.C:
			}
			rss, _, err := s.memory()
			if err != nil {
				sampled <- err
				return
			}
			samples = append(samples, mib(rss))
			if warmRSS == 0 && time.Since(started) >= warm {
				warmRSS = mib(rss)
			}
		}
	}()
	l, err := load(ctx, soakConns, 0, r.opts.Soak, func(ctx context.Context, conn int) error {
		return senders[conn%2].send(ctx, conn/2)
	})
	close(stop)
	if serr := <-sampled; err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	if len(samples) == 0 || warmRSS == 0 {
		return nil, fmt.Errorf("the soak of %s took no sample after warming up", r.opts.Soak)
	}
	_, peak, err := s.memory()
	if err != nil {
		return nil, err
	}
	res.pair(samples[len(samples)-1], warmRSS)
	res.metric("messages per second", "msg/s").add(l.rate())
	res.metric("peak RSS", "MiB").add(mib(peak))

	// ten samples or so show the shape
	every := max(1, len(samples)/10)
	var shown []string
	for i := 0; i < len(samples); i += every {
		shown = append(shown, num(samples[i]))
	}
	res.Notes = append(res.Notes, fmt.Sprintf("RSS every %s, in MiB: %s", time.Duration(every)*r.sizes.soakSample, strings.Join(shown, ", ")))
	return res, nil
}
