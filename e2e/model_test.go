package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"testing"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The keywords tests send, with their intents, in the shapes people type them.
var (
	optOutTexts = []string{"PARAR", "sair", " Stop. ", "¡Salir!", "detener", "exit", "#optout", "Parar!!"}
	optInTexts  = []string{"#voltar", "#Receber", "#volver", "#RECIBIR", "#start", " #voltar!"}
)

// message is a keyword message a test sends, with the status it leads to.
type message struct {
	uuid, urn, text string
	status          string
}

func randomMessage(rng *rand.Rand, urn string) *message {
	m := &message{uuid: string(uuids.NewV4()), urn: urn}
	if rng.IntN(2) == 0 {
		m.text, m.status = optOutTexts[rng.IntN(len(optOutTexts))], "opted_out"
	} else {
		m.text, m.status = optInTexts[rng.IntN(len(optInTexts))], "opted_in"
	}
	return m
}

// ledger is what a test knows the service acknowledged: each contact's keywords in the order they were acknowledged,
// which the client keeps to the order they were sent by waiting for each before sending the contact's next.
type ledger struct {
	mu    sync.Mutex
	acked map[string][]*message
	n     int
}

func newLedger() *ledger { return &ledger{acked: map[string][]*message{}} }

// send sends m until acknowledged and checks the acknowledgement says the contact is now in m's status.
func (l *ledger) send(ctx context.Context, t *testing.T, c *client, ws string, m *message) {
	resp := c.send(ctx, ws, m.uuid, m.urn, m.text)
	if resp == "" {
		return
	}
	assert.Equal(t, m.status, jsonPath(resp, "contact", "opt_status"), "acknowledgement of %q", m.text)
	l.mu.Lock()
	l.acked[m.urn] = append(l.acked[m.urn], m)
	l.n++
	l.mu.Unlock()
}

// change is a status change a contact's acknowledged keywords made.
type change struct {
	msgUUID, before, after string
}

// changes are the changes each contact's acknowledged keywords made, in order: a keyword of the status the contact
// is already in changes nothing.
func (l *ledger) changes() map[string][]change {
	all := map[string][]change{}
	for urn, msgs := range l.acked {
		status := "undefined"
		for _, m := range msgs {
			if m.status != status {
				all[urn] = append(all[urn], change{m.uuid, status, m.status})
				status = m.status
			}
		}
	}
	return all
}

// verify checks the service against the ledger: every contact is in the status of its last acknowledged keyword,
// the audit log has each acknowledged change exactly once and in order, and the receiver got a webhook for each,
// in order per contact. It returns how many changes there were.
func (l *ledger) verify(t *testing.T, c *client, ws string, r *receiver) int {
	expected := l.changes()
	total := 0
	for _, cs := range expected {
		total += len(cs)
	}

	for urn, msgs := range l.acked {
		status, body := c.do("GET", "/v1/workspaces/"+ws+"/contacts/"+urn, nil)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, msgs[len(msgs)-1].status, jsonPath(body, "opt_status"), "status of %s", urn)
	}

	audited := map[string][]change{}
	for _, e := range c.all("/v1/workspaces/" + ws + "/events") {
		urn := jsonPath(e, "urn").(string)
		audited[urn] = append(audited[urn], change{jsonPath(e, "msg_uuid").(string), jsonPath(e, "before").(string), jsonPath(e, "after").(string)})
	}
	assert.Equal(t, sortedKeys(expected), sortedKeys(audited), "contacts with changes")
	for urn, cs := range expected {
		assert.Equal(t, cs, audited[urn], "audit log of %s", urn)
	}

	delivered := r.await(t, total)
	notified := map[string][]string{}
	for _, d := range delivered {
		urn := jsonPath(d.body, "data", "urn").(string)
		notified[urn] = append(notified[urn], jsonPath(d.body, "data", "msg_uuid").(string))
	}
	assert.Len(t, delivered, total, "one event per change")
	for urn, cs := range expected {
		var uuids []string
		for _, ch := range cs {
			uuids = append(uuids, ch.msgUUID)
		}
		assert.Equal(t, uuids, notified[urn], "webhooks of %s, in order", urn)
	}
	return total
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func urnOf(i int) string { return fmt.Sprintf("whatsapp:55119%08d", i) }
