package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

// Contacts whose events keep coming while the worker delivers, as under a stream of keywords, get every one
// delivered soon after the last, in order: each contact's next event is claimable once its last is recorded, and
// finding it must not slow down as events are committed. On PostgreSQL a claim once took seconds here, and 1,920
// events took minutes.
func TestEventsDeliveredWhileTheyKeepComing(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		var mu sync.Mutex
		got := map[string][]string{} // each contact's events, in the order they arrived
		rc, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Contact string `json:"contact"`
			}
			require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
			mu.Lock()
			got[body.Contact] = append(got[body.Contact], r.Header.Get("X-Optout-Event-Id"))
			mu.Unlock()
		})
		_, err := st.PutWorkspace(t.Context(), &store.Workspace{ID: "acme", Name: "acme", Config: json.RawMessage(`{}`), WebhookURL: rc.URL, WebhookSecret: secret}, nil, nil)
		require.NoError(t, err)
		worker := &webhook.Worker{Store: st, Policy: &webhook.Policy{AllowPrivate: true}, Concurrency: 8}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- worker.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		const contacts, each = 64, 30
		var sent sync.Map // contact → its events' IDs, in order
		var total atomic.Int32
		var wg sync.WaitGroup
		for range contacts {
			wg.Go(func() {
				contact := string(uuids.NewV4())
				var ids []string
				for range each {
					ev := &store.WebhookEvent{ID: string(uuids.NewV4()), ContactUUID: flows.ContactUUID(contact), Body: json.RawMessage(`{"contact": "` + contact + `"}`)}
					assert.NoError(t, st.Commit(t.Context(), &store.Change{Workspace: "acme", Webhooks: []*store.WebhookEvent{ev}}))
					ids = append(ids, ev.ID)
					total.Add(1)
					worker.Nudge()
					time.Sleep(20 * time.Millisecond)
				}
				sent.Store(contact, ids)
			})
		}
		wg.Wait()

		arrived := func() int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, ids := range got {
				n += len(ids)
			}
			return n
		}
		require.Eventually(t, func() bool { return arrived() == int(total.Load()) }, 20*time.Second, 10*time.Millisecond,
			"every one of %d events delivered", total.Load())
		sent.Range(func(contact, ids any) bool {
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, ids, got[contact.(string)], "in order")
			return true
		})
	})
}
