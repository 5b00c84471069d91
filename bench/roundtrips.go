package bench

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"
)

// runRoundTrips counts the round trips to PostgreSQL and Redis that one message costs, through counting proxies
// between a service of its own and them: the first thing to know of a rate held back by waiting on the network.
func runRoundTrips(ctx context.Context, r *run) error {
	for _, t := range r.targets {
		if t.name != "postgres" {
			continue // the embedded store is in process: it makes no round trips
		}
		if err := r.roundTrips(ctx, t); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		return nil
	}
	r.report.Skipped = append(r.report.Skipped, "round trips: they are counted on PostgreSQL, which was not given")
	return nil
}

func (r *run) roundTrips(ctx context.Context, t *target) error {
	db, err := startProxy(hostPort(t.dsn, "5432"))
	if err != nil {
		return err
	}
	defer db.close()
	settings := []string{"OPTOUT_DB=" + withHost(t.dsn, db.addr())}
	var cache *proxy
	if t.redis != "" {
		if cache, err = startProxy(hostPort(t.redis, "6379")); err != nil {
			return err
		}
		defer cache.close()
		settings = append(settings, "OPTOUT_REDIS="+withHost(t.redis, cache.addr()))
	}
	redisTrips := func() int64 {
		if cache == nil {
			return 0
		}
		return cache.roundTrips()
	}

	s, err := r.startServe(ctx, t, settings...)
	if err != nil {
		return err
	}
	defer s.stop()
	ws, err := r.messageWorkspace(ctx, s, "roundtrips")
	if err != nil {
		return err
	}
	const contacts = 20
	keyword, flow := newSender(ws, true, 22, contacts), newSender(ws, false, 32, contacts)
	delivered := r.receiver.expect(ws.ID, contacts)
	for _, sd := range []*sender{keyword, flow} {
		if err := sd.prewarm(ctx, 1); err != nil {
			return err
		}
	}
	if err := waitFor(ctx, delivered, time.Minute, "the first messages' webhooks"); err != nil {
		return err
	}

	upserts, err := newUpserts(ctx, &target{name: t.name, dsn: withHost(t.dsn, db.addr())}, 1, contacts)
	if err != nil {
		return err
	}
	defer upserts.close(ctx)

	n := r.sizes.profileMessages
	newResult := func(kind, what string) *Result {
		return &Result{
			Name: "roundtrips/" + kind + "/" + t.name,
			What: fmt.Sprintf("Round trips to PostgreSQL per %s message, sent one at a time (%d a repeat), counted by a proxy "+
				"between optout serve and PostgreSQL (and Redis): a round trip is the client writing after the server "+
				"answered. %s Against a single-row upsert transaction through the store's driver and the same proxy. The service's "+
				"background work in the same seconds (claiming webhooks, looking for campaign events) is counted with it.",
				kind, n, what),
			Measured: Side{Label: "optout serve, PostgreSQL", Unit: "round trips/msg"},
			Baseline: &Side{Label: "upsert", Unit: "round trips/txn"},
		}
	}
	kw := newResult("keyword", "Each is a change whose webhook is delivered, and the delivery's round trips are counted too, "+
		"until the receiver has every one.")
	fl := newResult("flow", "Each starts the catch-all flow.")

	// measure sends n messages and returns the round trips each cost, to PostgreSQL and to Redis
	measure := func(sd *sender, settle func() error) (float64, float64, error) {
		pg, rd := db.roundTrips(), redisTrips()
		for range n {
			if err := sd.send(ctx, 0); err != nil {
				return 0, 0, err
			}
		}
		if err := settle(); err != nil {
			return 0, 0, err
		}
		return float64(db.roundTrips()-pg) / float64(n), float64(redisTrips()-rd) / float64(n), nil
	}
	settled := func() error { return sleep(ctx, 200*time.Millisecond) }

	err = r.repeat(func(int) (bool, error) {
		delivered := r.receiver.expect(ws.ID, n)
		kwPG, kwRedis, err := measure(keyword, func() error {
			if err := waitFor(ctx, delivered, time.Minute, "the webhooks of the messages"); err != nil {
				return err
			}
			return settled() // the worker records each delivery after the receiver answered it
		})
		if err != nil {
			return false, err
		}

		pg := db.roundTrips()
		for range n {
			if err := upserts.upsert(ctx, 0); err != nil {
				return false, err
			}
		}
		perTxn := float64(db.roundTrips()-pg) / float64(n)

		flPG, flRedis, err := measure(flow, settled)
		if err != nil {
			return false, err
		}
		kw.pair(kwPG, perTxn)
		kw.metric("Redis round trips per message", "round trips").add(kwRedis)
		fl.pair(flPG, perTxn)
		fl.metric("Redis round trips per message", "round trips").add(flRedis)
		return false, nil
	})
	if err != nil {
		return err
	}
	r.add(kw)
	r.add(fl)
	return drain(ctx, ws)
}

// hostPort is the host and port of a URL, with the default port when it has none.
func hostPort(rawURL, port string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), port)
	}
	return u.Host
}

// withHost returns the URL pointed at another address, such as a proxy's.
func withHost(rawURL, addr string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	u.Host = addr
	return u.String()
}
