package bench

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/store"
)

// The groups a broadcast goes to: every contact seeded, and its first tenth.
const (
	allGroup   = "Customers"
	tenthGroup = "Tenth"
)

// seedBatch is how many contacts a commit of the seeding writes.
const seedBatch = 5000

func runBroadcasts(ctx context.Context, r *run) error {
	for _, t := range r.targets {
		if err := r.broadcasts(ctx, t); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

// audience is a seeded group: its UUID, and how many members it has and how many of them opted out.
type audience struct {
	name     string
	uuid     assets.GroupUUID
	members  int
	optedOut int
}

func (r *run) broadcasts(ctx context.Context, t *target) error {
	s, err := r.startServe(ctx, t)
	if err != nil {
		return err
	}
	defer s.stop()
	ws, err := r.createWorkspace(ctx, s, "broadcasts", "")
	if err != nil {
		return err
	}
	all, tenth, err := r.seedGroups(ctx, t, ws)
	if err != nil {
		return fmt.Errorf("seeding the contacts: %w", err)
	}
	db, err := t.open()
	if err != nil {
		return err
	}
	defer db.Close()

	seeded := "The contacts are seeded through the store package (store.Open and Commit of 5,000 contacts at a time), " +
		"the data layer the service uses, each a copy of one of four contacts made through the API, with its UUID and URN " +
		"changed: a million contacts through the API would take longer than the benchmarks."
	dry := &Result{
		Name: "broadcasts/" + t.name,
		What: fmt.Sprintf("A dry run of a MARKETING template broadcast to a group of %s contacts, %s of them opted out, through "+
			"POST /broadcasts of optout serve on %s: the time to its answer. Against one SQL pass through %s over the "+
			"same group in the same database, in one transaction, that reads every member and writes its decision "+
			"(skip for the opted out, send for the rest) as a broadcast recipient row. Peak RSS is optout serve's "+
			"during the broadcast (VmHWM, reset before it).", count(all.members), count(all.optedOut), t.label, t.driver),
		Measured: Side{Label: "optout serve, dry run", Unit: "s"},
		Baseline: &Side{Label: "one SQL pass", Unit: "s"},
		Target:   []Criterion{{ofRatio, "<=", 2}, {"peak RSS", "<=", 64}},
		Notes:    []string{seeded},
	}
	send := &Result{
		Name: "broadcasts/send/" + t.name,
		What: fmt.Sprintf("The same broadcast sent, not a dry run: optout serve records every recipient's decision and queues "+
			"the message of every one it may go to (%s). Against one SQL pass, in one transaction, that reads the group "+
			"and writes every decision as a broadcast recipient row and every message as an outbox row. What both wrote "+
			"is deleted after each repeat, untimed.", count(all.members-all.optedOut)),
		Measured: Side{Label: "optout serve, sent", Unit: "s"},
		Baseline: &Side{Label: "one SQL pass", Unit: "s"},
		Target:   []Criterion{{ofRatio, "<=", 2}, {"peak RSS", "<=", 64}},
		Notes:    []string{seeded},
	}
	linear := &Result{
		Name: "broadcasts/linearity/" + t.name,
		What: fmt.Sprintf("The dry run to the %s contacts of the group against one to its first tenth (%s contacts): "+
			"the ratio of the times, which is 10 where time is linear in recipients.", count(all.members), count(tenth.members)),
		Measured: Side{Label: count(all.members) + " recipients", Unit: "s"},
		Baseline: &Side{Label: count(tenth.members) + " recipients", Unit: "s"},
		Target:   []Criterion{{ofRatio, "<=", 11}},
	}

	// timed runs a broadcast and returns its time and the service's peak RSS while it ran
	timed := func(group *audience, dryRun bool) (time.Duration, float64, error) {
		if err := s.resetPeak(); err != nil {
			return 0, 0, err
		}
		elapsed, id, err := broadcast(ctx, ws, group, dryRun)
		if err != nil {
			return 0, 0, err
		}
		_, peak, err := s.memory()
		if err != nil {
			return 0, 0, err
		}
		if !dryRun {
			err = deleteBroadcast(ctx, db, id)
		}
		return elapsed, mib(peak), err
	}
	err = r.repeat(func(int) (bool, error) {
		whole, peak, err := timed(all, true)
		if err != nil {
			return false, err
		}
		pass, err := onePass(ctx, db, ws.ID, all, false)
		if err != nil {
			return false, fmt.Errorf("the one pass: %w", err)
		}
		dry.pair(whole.Seconds(), pass.Seconds())
		dry.metric("peak RSS", "MiB").add(peak)

		sent, peak, err := timed(all, false)
		if err != nil {
			return false, err
		}
		pass, err = onePass(ctx, db, ws.ID, all, true)
		if err != nil {
			return false, fmt.Errorf("the one pass that queues: %w", err)
		}
		send.pair(sent.Seconds(), pass.Seconds())
		send.metric("peak RSS", "MiB").add(peak)

		part, _, err := timed(tenth, true)
		if err != nil {
			return false, err
		}
		linear.pair(whole.Seconds(), part.Seconds())
		return false, nil
	})
	if err != nil {
		return err
	}
	r.add(dry)
	r.add(send)
	r.add(linear)
	return nil
}

// broadcast times a MARKETING template broadcast to the group, checks its counts, and returns its ID.
func broadcast(ctx context.Context, ws *workspace, group *audience, dryRun bool) (time.Duration, string, error) {
	var answer struct {
		ID      string         `json:"id"`
		Total   int            `json:"total"`
		Sent    int            `json:"sent"`
		Skipped map[string]int `json:"skipped"`
	}
	body := map[string]any{"group": group.name, "template": map[string]string{"name": "promo", "category": "MARKETING"}, "dry_run": dryRun}
	started := time.Now()
	if err := ws.call(ctx, "POST", ws.path("/broadcasts"), body, http.StatusOK, &answer); err != nil {
		return 0, "", err
	}
	elapsed := time.Since(started)
	if answer.Total != group.members || answer.Skipped["opted_out"] != group.optedOut || answer.Sent != group.members-group.optedOut {
		return 0, "", fmt.Errorf("the broadcast to %s decided %d recipients, %d sent and %v skipped, not %d with %d opted out",
			group.name, answer.Total, answer.Sent, answer.Skipped, group.members, group.optedOut)
	}
	return elapsed, answer.ID, nil
}

// The one pass: a broadcast's row, and every member's decision written from one read of the group, and when it
// queues, every message to send from another.
const (
	sqlPassBroadcast = `
INSERT INTO broadcasts (id, workspace, request, dry_run, created_on, sent, skipped, recipients, finished_on)
     VALUES ($1, $2, NULL, FALSE, $3, 0, '{}', 0, NULL)`

	sqlPassDecisions = `
INSERT INTO broadcast_recipients (broadcast_id, seq, urn, decision, reason)
     SELECT CAST($1 AS TEXT), ROW_NUMBER() OVER (ORDER BY c.id), c.urn,
            CASE WHEN c.opt_status = CAST($4 AS TEXT) THEN 'skip' ELSE 'send' END,
            CASE WHEN c.opt_status = CAST($4 AS TEXT) THEN 'opted_out' ELSE '' END
       FROM contact_groups m
       JOIN contacts c ON c.id = m.contact_id
      WHERE m.workspace = $2 AND m.group_uuid = $3`

	sqlPassQueue = `
INSERT INTO outbox (workspace, contact_uuid, urn, channel_uuid, text, template, source, broadcast_id, created_on)
     SELECT CAST($2 AS TEXT), c.uuid, c.urn, CAST($5 AS TEXT), '', 'promo', 'broadcast', CAST($1 AS TEXT), CAST($3 AS BIGINT)
       FROM contact_groups m
       JOIN contacts c ON c.id = m.contact_id
      WHERE m.workspace = $2 AND m.group_uuid = $4 AND c.opt_status <> CAST($6 AS TEXT)
   ORDER BY c.id`

	sqlDeleteOutbox     = `DELETE FROM outbox WHERE broadcast_id = $1`
	sqlDeleteRecipients = `DELETE FROM broadcast_recipients WHERE broadcast_id = $1`
	sqlDeleteBroadcast  = `DELETE FROM broadcasts WHERE id = $1`
)

// passChannel stands for the workspace's channel in the messages the one pass queues.
const passChannel = "8a0f3c2e-5b7d-4e9a-9c1f-2d3e4f5a6b7c"

// onePass times the one pass over the group, checks that it wrote a decision for every member (and queued a
// message for every one not opted out), and then deletes what it wrote, untimed.
func onePass(ctx context.Context, db *sql.DB, workspace string, group *audience, queue bool) (time.Duration, error) {
	id := string(uuids.NewV4())
	now := time.Now().UnixMicro()
	started := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, sqlPassBroadcast, id, workspace, now); err != nil {
		return 0, err
	}
	decided, err := tx.ExecContext(ctx, sqlPassDecisions, id, workspace, string(group.uuid), string(consent.OptedOut))
	if err != nil {
		return 0, err
	}
	var queued sql.Result
	if queue {
		if queued, err = tx.ExecContext(ctx, sqlPassQueue, id, workspace, now, string(group.uuid), passChannel, string(consent.OptedOut)); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	elapsed := time.Since(started)

	if n, err := decided.RowsAffected(); err != nil || n != int64(group.members) {
		return 0, fmt.Errorf("it wrote %d decisions for %d members (%v)", n, group.members, err)
	}
	if queue {
		if n, err := queued.RowsAffected(); err != nil || n != int64(group.members-group.optedOut) {
			return 0, fmt.Errorf("it queued %d messages for %d members not opted out (%v)", n, group.members-group.optedOut, err)
		}
	}
	return elapsed, deleteBroadcast(ctx, db, id)
}

// deleteBroadcast deletes a broadcast with its recipients and its messages.
func deleteBroadcast(ctx context.Context, db *sql.DB, id string) error {
	for _, stmt := range []string{sqlDeleteOutbox, sqlDeleteRecipients, sqlDeleteBroadcast} {
		if _, err := db.ExecContext(ctx, stmt, id); err != nil {
			return fmt.Errorf("deleting broadcast %s: %w", id, err)
		}
	}
	return nil
}

// seedGroups fills the workspace with Options.Contacts contacts in the group allGroup, a tenth of them also in
// tenthGroup, and one in ten of each opted out. Four are made through the API: a contact added to the groups, and
// one that sent PARAR first, each in both groups and in the first only. The rest are copies of them written
// through the store, with their UUIDs and URNs changed.
func (r *run) seedGroups(ctx context.Context, t *target, ws *workspace) (all, tenth *audience, err error) {
	all, tenth = &audience{name: allGroup}, &audience{name: tenthGroup}
	for _, g := range []*audience{all, tenth} {
		var view struct {
			UUID assets.GroupUUID `json:"uuid"`
		}
		if err := ws.call(ctx, "POST", ws.path("/groups"), map[string]string{"name": g.name}, http.StatusCreated, &view); err != nil {
			return nil, nil, err
		}
		g.uuid = view.UUID
	}

	const area = 11
	n := r.opts.Contacts
	// the four models: by whether they opted out, and whether they are in the tenth
	models := [2][2]*store.Contact{}
	for i, m := range []struct{ optedOut, inTenth bool }{{false, true}, {false, false}, {true, true}, {true, false}} {
		urn := urnOf(area, i)
		if m.optedOut {
			msg := map[string]string{"uuid": string(uuids.NewV4()), "urn": urn, "text": "PARAR"}
			if err := ws.call(ctx, "POST", ws.path("/messages"), msg, http.StatusOK, nil); err != nil {
				return nil, nil, err
			}
		}
		groups := []string{allGroup}
		if m.inTenth {
			groups = append(groups, tenthGroup)
		}
		for _, g := range groups {
			if err := ws.call(ctx, "POST", ws.path("/groups/"+g+"/contacts"), map[string][]string{"urns": {urn}}, http.StatusOK, nil); err != nil {
				return nil, nil, err
			}
		}
		models[b2i(m.optedOut)][b2i(m.inTenth)] = &store.Contact{URN: urns.URN(urn)}
	}

	st, err := store.Open(ctx, t.dsn)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	for _, pair := range models {
		for _, m := range pair {
			read, err := st.ContactByURN(ctx, ws.ID, m.URN)
			if err != nil {
				return nil, nil, err
			}
			*m = *read
		}
	}

	tallyMember := func(optedOut, inTenth bool) {
		all.members++
		if optedOut {
			all.optedOut++
		}
		if inTenth {
			tenth.members++
			if optedOut {
				tenth.optedOut++
			}
		}
	}
	tallyMember(false, true)
	tallyMember(false, false)
	tallyMember(true, true)
	tallyMember(true, false)

	started := time.Now()
	batch := make([]*store.Contact, 0, seedBatch)
	for i := 4; i < n; i++ {
		optedOut, inTenth := i%10 == 0, i < n/10
		batch = append(batch, copyContact(models[b2i(optedOut)][b2i(inTenth)], urns.URN(urnOf(area, i))))
		tallyMember(optedOut, inTenth)
		if len(batch) == seedBatch || i == n-1 {
			if err := st.Commit(ctx, &store.Change{Workspace: ws.ID, Contacts: batch}); err != nil {
				return nil, nil, err
			}
			batch = batch[:0]
		}
		if (i+1)%200_000 == 0 && i+1 < n {
			r.logf("%s: seeded %d contacts in %s", t.name, i+1, time.Since(started).Round(time.Second))
		}
	}
	r.logf("%s: seeded %d contacts in %s", t.name, n, time.Since(started).Round(time.Second))

	// PostgreSQL's autovacuum analyzes tables after a bulk load like this one, when it gets to them: the benchmark
	// doesn't wait for it to, so that its plans are the ones the service gets in the steady state, whatever the timing
	if t.name == "postgres" {
		if err := analyze(ctx, t); err != nil {
			return nil, nil, err
		}
	}
	return all, tenth, nil
}

func analyze(ctx context.Context, t *target) error {
	db, err := t.open()
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "ANALYZE contacts, contact_groups")
	return err
}

// copyContact is the model with another UUID and URN, in its columns and in goflow's JSON of it.
func copyContact(model *store.Contact, urn urns.URN) *store.Contact {
	c := *model
	c.ID = 0
	c.UUID = flows.ContactUUID(uuids.NewV4())
	c.URN = urn
	c.Data = bytes.ReplaceAll(model.Data, []byte(model.UUID), []byte(c.UUID))
	c.Data = bytes.ReplaceAll(c.Data, []byte(number(model.URN)), []byte(number(urn)))
	return &c
}

// number is the URN without its scheme.
func number(u urns.URN) string {
	_, p, _ := strings.Cut(string(u), ":")
	return p
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
