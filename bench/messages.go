package bench

import (
	"bytes"
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/nyaruka/gocommon/uuids"
)

// catchAll is an export whose catch-all trigger starts a flow that sends one message: what a workspace's
// non-keyword messages most often do.
//
//go:embed catchall.json
var catchAll []byte

// loadClient is the HTTP client of every load: a connection kept for each client of the load.
var loadClient = &http.Client{
	Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true},
	Timeout:   2 * time.Minute,
}

// urnOf is the WhatsApp URN of contact i of a pool, a Brazilian mobile number in the area code, which keeps each
// benchmark's contacts apart from the others'.
func urnOf(area, i int) string { return fmt.Sprintf("whatsapp:55%d9%08d", area, 60000000+i) }

// The keywords each contact sends, by its number: opt-out then opt-in, in its language.
var keywordTexts = [][2]string{{"PARAR", "#voltar"}, {"salir", "#volver"}, {"Stop", "#start"}}

// flowTexts are the messages that are not keywords, and start the catch-all flow.
var flowTexts = []string{
	"Olá, gostaria de saber o status do meu pedido",
	"Hola, ¿a qué hora abren mañana?",
	"Hi, can you tell me when my order arrives?",
	"Bom dia! Vocês entregam no sábado?",
}

// sender posts messages of one kind to a workspace, from clients that each write to contacts of their own: a
// keyword message is always a change (an opted-out contact sends the opt-in keyword, any other the opt-out one),
// so that each commits the contact, the audit row, the webhook event and the reply; a flow message starts the
// catch-all flow, which answers it.
type sender struct {
	ws       *workspace
	keywords bool
	area     int
	perConn  int

	mu       sync.Mutex
	next     map[int]int  // each client's next message, by client
	optedOut map[int]bool // each contact's status, by contact
	bufs     sync.Pool
}

func newSender(ws *workspace, keywords bool, area, perConn int) *sender {
	s := &sender{ws: ws, keywords: keywords, area: area, perConn: perConn, next: map[int]int{}, optedOut: map[int]bool{}}
	s.bufs.New = func() any { return new(bytes.Buffer) }
	return s
}

func quoteJSON(text string) []byte {
	q, _ := json.Marshal(text) // strings always marshal
	return q
}

// send posts a client's next message, and checks its answer.
func (s *sender) send(ctx context.Context, conn int) error {
	return s.sendUUID(ctx, conn, string(uuids.NewV4()))
}

// sendUUID sends a client's next message with the UUID.
func (s *sender) sendUUID(ctx context.Context, conn int, msgUUID string) error {
	s.mu.Lock()
	i := s.next[conn]
	s.next[conn] = i + 1
	contact := conn*s.perConn + i%s.perConn
	optedOut := s.optedOut[contact]
	s.mu.Unlock()

	var text, want string
	if s.keywords {
		texts := keywordTexts[contact%len(keywordTexts)]
		text, want = texts[0], `"opt_status":"opted_out"`
		if optedOut {
			text, want = texts[1], `"opt_status":"opted_in"`
		}
	} else {
		text, want = flowTexts[i%len(flowTexts)], `"handled":false,"replies":[{`
	}

	buf := s.bufs.Get().(*bytes.Buffer)
	defer s.bufs.Put(buf)
	buf.Reset()
	fmt.Fprintf(buf, `{"uuid":"%s","urn":"%s","text":%s}`, msgUUID, urnOf(s.area, contact), quoteJSON(text))

	req, err := http.NewRequestWithContext(ctx, "POST", s.ws.base+s.ws.path("/messages"), bytes.NewReader(buf.Bytes()))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.ws.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := loadClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := io.Copy(buf, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", s.ws.path("/messages"), resp.StatusCode, buf.String())
	}
	if !bytes.Contains(buf.Bytes(), []byte(want)) {
		return fmt.Errorf("%w: %q answered %s", errNotHandled, text, buf.String())
	}
	if s.keywords {
		s.mu.Lock()
		s.optedOut[contact] = !optedOut
		s.mu.Unlock()
	}
	return nil
}

// prewarm sends the first message of each contact of conns clients, so that the load that follows updates
// contacts rather than creating them.
func (s *sender) prewarm(ctx context.Context, conns int) error {
	return each(ctx, conns, s.perConn, func(ctx context.Context, conn, _ int) error { return s.send(ctx, conn) })
}

// upserts are the limit the service's messages are measured against: single-row upsert transactions, through the
// store's driver to the store's database, from as many clients, each writing to as many rows as it has contacts.
type upserts struct {
	db      *sql.DB
	perConn int
	next    []int
}

const (
	sqlCreateUpsertsPostgres = `CREATE TABLE IF NOT EXISTS bench_upserts (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)`
	sqlCreateUpsertsSQLite   = `CREATE TABLE IF NOT EXISTS bench_upserts (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`
	sqlUpsert                = `INSERT INTO bench_upserts (id, n) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET n = bench_upserts.n + 1`
	sqlDropUpserts           = `DROP TABLE IF EXISTS bench_upserts`
)

func newUpserts(ctx context.Context, t *target, conns, perConn int) (*upserts, error) {
	db, err := t.open()
	if err != nil {
		return nil, err
	}
	create := sqlCreateUpsertsPostgres
	if t.name == "embedded" {
		create = sqlCreateUpsertsSQLite
	}
	if _, err := db.ExecContext(ctx, create); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the upserts' table: %w", err)
	}
	return &upserts{db: db, perConn: perConn, next: make([]int, conns)}, nil
}

// upsert is one transaction: BEGIN, the upsert, COMMIT.
func (u *upserts) upsert(ctx context.Context, conn int) error {
	i := u.next[conn]
	u.next[conn]++
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, sqlUpsert, conn*1000+i%u.perConn); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (u *upserts) close(ctx context.Context) error {
	defer u.db.Close()
	_, err := u.db.ExecContext(ctx, sqlDropUpserts)
	return err
}

// messageWorkspace creates a workspace with a webhook to the receiver's /ok and the catch-all flow.
func (r *run) messageWorkspace(ctx context.Context, s *server, prefix string) (*workspace, error) {
	ws, err := r.createWorkspace(ctx, s, prefix, "ok")
	if err != nil {
		return nil, err
	}
	if err := ws.call(ctx, "POST", ws.path("/import"), catchAll, http.StatusOK, nil); err != nil {
		return nil, err
	}
	return ws, nil
}

func runMessages(ctx context.Context, r *run) error {
	for _, t := range r.targets {
		if err := r.messages(ctx, t); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	return nil
}

func (r *run) messages(ctx context.Context, t *target) error {
	s, err := r.startServe(ctx, t)
	if err != nil {
		return err
	}
	defer s.stop()
	ws, err := r.messageWorkspace(ctx, s, "messages")
	if err != nil {
		return err
	}

	most := r.sizes.concurrencies[len(r.sizes.concurrencies)-1]
	keyword := newSender(ws, true, 21, r.sizes.contactsPerConn)
	flow := newSender(ws, false, 31, r.sizes.contactsPerConn)
	for _, sd := range []*sender{keyword, flow} {
		if err := sd.prewarm(ctx, most); err != nil {
			return fmt.Errorf("sending the contacts' first messages: %w", err)
		}
	}
	base, err := newUpserts(ctx, t, most, r.sizes.contactsPerConn)
	if err != nil {
		return err
	}
	defer base.close(ctx)

	for _, conns := range r.sizes.concurrencies {
		results := map[*sender]*Result{}
		for _, sd := range []*sender{keyword, flow} {
			kind, what := "flow", "non-keyword messages that start the catch-all flow, which answers each with one message (the contact, its processed message and the reply committed)"
			if sd.keywords {
				kind, what = "keyword", "keyword messages, each a change of the contact's consent (the contact, the audit row, the webhook event and the reply committed)"
			}
			res := &Result{
				Name: fmt.Sprintf("messages/%s/%s/c%d", kind, t.name, conns),
				What: fmt.Sprintf("POST /messages to optout serve on %s from %d clients, each writing to %d contacts of its own: %s. "+
					"Against single-row upsert transactions (BEGIN, INSERT ... ON CONFLICT DO UPDATE, COMMIT) through %s to the same "+
					"database from as many clients, each to as many rows, with the store's pool of %d connections. The service's rate counts the answers that came in the "+
					"%s window after %s of warm-up.", t.label, conns, r.sizes.contactsPerConn, what, t.driver, t.pool, r.sizes.window, r.sizes.warmup),
				Measured: Side{Label: "optout serve", Unit: "msg/s"},
				Baseline: &Side{Label: t.driver + " upserts", Unit: "txn/s"},
			}
			if conns == 16 {
				res.Target = []Criterion{{ofRatio, ">=", 0.5}, {"p99", "<=", 50}}
			}
			results[sd] = res
		}

		err := r.repeat(func(int) (bool, error) {
			kw, err := r.measureMessages(ctx, s, keyword, conns, results[keyword])
			if err != nil {
				return false, err
			}
			l, err := load(ctx, conns, r.sizes.warmup/2, r.sizes.baselineWindow, base.upsert)
			if err != nil {
				return false, fmt.Errorf("upserts: %w", err)
			}
			fl, err := r.measureMessages(ctx, s, flow, conns, results[flow])
			if err != nil {
				return false, err
			}
			for sd, rate := range map[*sender]float64{keyword: kw, flow: fl} {
				results[sd].pair(rate, l.rate())
				results[sd].metric("upsert p99", "ms").add(ms(percentile(l.latencies, 0.99)))
			}
			return false, nil
		})
		if err != nil {
			return err
		}
		for _, sd := range []*sender{keyword, flow} {
			results[sd].Notes = append(results[sd].Notes, cpuNote)
			r.add(results[sd])
		}
	}
	return drain(ctx, ws)
}

// cpuNote says what the CPU metrics of a load are.
const cpuNote = "CPU metrics are cores in use over the window, of the machine's: all of them busy, then optout serve, " +
	"PostgreSQL's processes, Redis and the harness (the load's clients) each, and the rest: the kernel's own work " +
	"(interrupts, the loopback network) and anything else running on the machine, which skews the figures; serve CPU per message is its CPU time over " +
	"the messages answered in the window. Peak RSS is optout serve's over the window (VmHWM, reset before it)."

// measureMessages measures the service's rate of one kind of message from conns clients, adds the load's latencies,
// CPU and memory to the result's metrics, and returns the rate.
func (r *run) measureMessages(ctx context.Context, s *server, sd *sender, conns int, res *Result) (float64, error) {
	if err := s.resetPeak(); err != nil {
		return 0, err
	}
	before := takeCPU(s.pid())
	l, err := load(ctx, conns, r.sizes.warmup, r.sizes.window, sd.send)
	if err != nil {
		return 0, err
	}
	cpu := before.to(takeCPU(s.pid()))
	_, peak, err := s.memory()
	if err != nil {
		return 0, err
	}
	res.metric("p50", "ms").add(ms(percentile(l.latencies, 0.5)))
	res.metric("p99", "ms").add(ms(percentile(l.latencies, 0.99)))
	res.metric("serve CPU per message", "ms").add(cpu.perOp(cpu.serve, l.ops))
	res.metric("CPU busy", "cores").add(cpu.busy)
	res.metric("serve CPU", "cores").add(cpu.serve)
	res.metric("PostgreSQL CPU", "cores").add(cpu.db)
	res.metric("Redis CPU", "cores").add(cpu.redis)
	res.metric("harness CPU", "cores").add(cpu.harness)
	res.metric("other CPU", "cores").add(cpu.others())
	res.metric("peak RSS", "MiB").add(mib(peak))
	return l.rate(), nil
}
