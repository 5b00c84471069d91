package crons

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	valkey "github.com/gomodule/redigo/redis"
	"github.com/lib/pq"
	"github.com/nyaruka/gocommon/dates"
	"github.com/nyaruka/mailroom/v26/core/models"
	"github.com/nyaruka/mailroom/v26/runtime"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/keywords"
)

func init() {
	Register("optout_resthooks", &OptoutResthooksCron{BatchSize: 100, Settle: 10 * time.Minute})
}

const (
	optoutCursorsKey   = "optout_resthooks:cursors"   // subscriber id -> id of the event up to which all are posted
	optoutPostedKey    = "optout_resthooks:posted:%d" // ids past the cursor that are posted, per subscriber
	optoutPostedExpire = 7 * 24 * time.Hour
)

// OptoutResthooksCron posts the opt-out plugin's notifications, the events of each org's opt-out resthook written with
// the changes they tell of (runner/handlers/consent_changed.go), to the resthook's subscribers: each event to each
// subscriber until it answers 2xx, in order, and a subscriber that answers 410 is unsubscribed. What each subscriber
// was sent is kept in Valkey, so an event committed while mailroom, or the subscriber, was down is posted once both
// are back: a crash between the commit and the post delays the notification and loses nothing. Posts are at least
// once (the same X-Optout-Event-Id again after a crash mid-post, or if Valkey loses its data); RapidPro's own
// resthook_events API lists the same events for receivers that would rather poll.
type OptoutResthooksCron struct {
	BatchSize int           // most events posted to one subscriber per run
	Settle    time.Duration // longest a transaction is taken to stay open after writing an event
}

func (c *OptoutResthooksCron) Next(last time.Time) time.Time {
	return Next(last, 10*time.Second)
}

func (c *OptoutResthooksCron) AllInstances() bool {
	return false
}

func (c *OptoutResthooksCron) Run(ctx context.Context, rt *runtime.Runtime) (map[string]any, error) {
	subs, err := loadOptoutSubscribers(ctx, rt)
	if err != nil {
		return nil, err
	}
	if err := forgetOptoutSubscribers(ctx, rt, subs); err != nil {
		return nil, err
	}

	posted, failing := 0, 0
	for _, sub := range subs {
		n, err := c.relay(ctx, rt, sub)
		posted += n
		if err != nil {
			failing++
			slog.Warn("error posting opt-out notifications", "org", sub.OrgID, "resthook", sub.Slug, "subscriber", sub.ID, "error", err)
		}
	}
	return map[string]any{"posted": posted, "failing": failing}, nil
}

type optoutSubscriber struct {
	ID         int64             `db:"id"`
	URL        string            `db:"target_url"`
	CreatedOn  time.Time         `db:"created_on"`
	ResthookID models.ResthookID `db:"resthook_id"`
	Slug       string            `db:"slug"`
	OrgID      models.OrgID      `db:"org_id"`
}

// the active subscribers of each org's opt-out resthook: the one its settings name, else the default
const sqlSelectOptoutSubscribers = `
SELECT s.id, s.target_url, s.created_on, r.id AS resthook_id, r.slug, r.org_id
  FROM api_resthooksubscriber s
  JOIN api_resthook r ON r.id = s.resthook_id
  JOIN orgs_org o ON o.id = r.org_id
 WHERE s.is_active AND r.is_active AND o.is_active AND r.slug = COALESCE(o.config->$1->>'resthook', $2)
 ORDER BY s.id`

func loadOptoutSubscribers(ctx context.Context, rt *runtime.Runtime) ([]*optoutSubscriber, error) {
	var subs []*optoutSubscriber
	if err := rt.DB.SelectContext(ctx, &subs, sqlSelectOptoutSubscribers, models.OptoutConfigKey, models.OptoutDefaultResthook); err != nil {
		return nil, fmt.Errorf("error loading opt-out resthook subscribers: %w", err)
	}
	return subs, nil
}

// forgetOptoutSubscribers drops what is kept of subscribers that are gone.
func forgetOptoutSubscribers(ctx context.Context, rt *runtime.Runtime, active []*optoutSubscriber) error {
	vc := rt.VK.Get()
	defer vc.Close()

	known, err := valkey.Int64s(valkey.DoContext(vc, ctx, "HKEYS", optoutCursorsKey))
	if err != nil {
		return fmt.Errorf("error reading opt-out resthook cursors: %w", err)
	}
	isActive := make(map[int64]bool, len(active))
	for _, s := range active {
		isActive[s.ID] = true
	}
	for _, id := range known {
		if !isActive[id] {
			vc.Send("HDEL", optoutCursorsKey, id)
			vc.Send("DEL", fmt.Sprintf(optoutPostedKey, id))
		}
	}
	_, err = valkey.DoContext(vc, ctx, "")
	return err
}

type optoutEvent struct {
	ID        int64     `db:"id"`
	Data      string    `db:"data"`
	CreatedOn time.Time `db:"created_on"`
}

// the events of the subscriber's resthook since it subscribed that are past its cursor and not yet posted to it
const sqlSelectOptoutEvents = `
  SELECT id, data, created_on
    FROM api_webhookevent
   WHERE resthook_id = $1 AND id > $2::bigint AND created_on >= $3 AND id <> ALL($4::bigint[])
ORDER BY id
   LIMIT $5`

// the last event up to which none can still be committed unseen, and before the first that isn't posted
const sqlSelectOptoutCursor = `
SELECT COALESCE(MAX(id), $2::bigint)
  FROM api_webhookevent
 WHERE resthook_id = $1 AND id > $2::bigint AND id < $3::bigint AND created_on < $4`

// relay posts the subscriber's events that are due, in order, up to the first that fails. Event ids come from a
// sequence when they are written, not when they are committed, so an event may show up after later ones were
// posted: the cursor only moves past events older than Settle, and the ids posted beyond it are kept until it does.
func (c *OptoutResthooksCron) relay(ctx context.Context, rt *runtime.Runtime, sub *optoutSubscriber) (int, error) {
	vc := rt.VK.Get()
	defer vc.Close()

	cursor, err := valkey.Int64(valkey.DoContext(vc, ctx, "HGET", optoutCursorsKey, sub.ID))
	if err != nil && !errors.Is(err, valkey.ErrNil) {
		return 0, fmt.Errorf("error reading cursor: %w", err)
	}
	postedKey := fmt.Sprintf(optoutPostedKey, sub.ID)
	posted, err := valkey.Int64s(valkey.DoContext(vc, ctx, "ZRANGE", postedKey, "("+strconv.FormatInt(cursor, 10), "+inf", "BYSCORE"))
	if err != nil {
		return 0, fmt.Errorf("error reading posted events: %w", err)
	}

	var evts []*optoutEvent
	if err := rt.DB.SelectContext(ctx, &evts, sqlSelectOptoutEvents, sub.ResthookID, cursor, sub.CreatedOn, pq.Array(posted), c.BatchSize); err != nil {
		return 0, fmt.Errorf("error loading events: %w", err)
	}

	// the first event not posted by the end of this run bounds the cursor
	bound := int64(1<<63 - 1)
	if len(evts) == c.BatchSize {
		bound = evts[len(evts)-1].ID + 1
	}
	numPosted := 0
	var failure error
	for _, e := range evts {
		if isOptoutNotification(e.Data) { // anything else is a flow calling the resthook, which posted it itself
			status, err := postOptoutEvent(ctx, rt, sub, e)
			if err == nil && status == http.StatusGone {
				return numPosted, unsubscribeOptout(ctx, rt, sub)
			}
			if err == nil && (status < 200 || status > 299) {
				err = fmt.Errorf("event %d: status %d", e.ID, status)
			}
			if err != nil {
				bound, failure = e.ID, err
				break
			}
			numPosted++
		}
		if _, err := valkey.DoContext(vc, ctx, "ZADD", postedKey, e.ID, e.ID); err != nil {
			return numPosted, fmt.Errorf("error recording event %d as posted: %w", e.ID, err)
		}
	}

	if err := rt.DB.GetContext(ctx, &cursor, sqlSelectOptoutCursor, sub.ResthookID, cursor, bound, dates.Now().Add(-c.Settle)); err != nil {
		return numPosted, fmt.Errorf("error moving cursor: %w", err)
	}
	vc.Send("HSET", optoutCursorsKey, sub.ID, cursor)
	vc.Send("ZREMRANGEBYSCORE", postedKey, "-inf", cursor)
	vc.Send("EXPIRE", postedKey, int(optoutPostedExpire/time.Second))
	if _, err := valkey.DoContext(vc, ctx, ""); err != nil {
		return numPosted, fmt.Errorf("error saving cursor: %w", err)
	}
	return numPosted, failure
}

// isOptoutNotification returns whether the event's data is a consent notification.
func isOptoutNotification(data string) bool {
	var n consent.Notification
	if err := json.Unmarshal([]byte(data), &n); err != nil {
		return false
	}
	return (n.Event == keywords.OptOut || n.Event == keywords.OptIn) && n.ClientInfo.Workspace != ""
}

func postOptoutEvent(ctx context.Context, rt *runtime.Runtime, sub *optoutSubscriber, e *optoutEvent) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, strings.NewReader(e.Data))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Optout-Event-Id", strconv.FormatInt(e.ID, 10))

	resp, err := rt.HTTP.Engine.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024)) // so the connection can be reused
	return resp.StatusCode, nil
}

// unsubscribeOptout removes a subscriber that answered 410 Gone, as mailroom does for resthook calls from flows.
func unsubscribeOptout(ctx context.Context, rt *runtime.Runtime, sub *optoutSubscriber) error {
	tx, err := rt.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	unsub := &models.ResthookUnsubscribe{OrgID: sub.OrgID, Slug: sub.Slug, URL: sub.URL}
	if err := models.UnsubscribeResthooks(ctx, tx, []*models.ResthookUnsubscribe{unsub}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
