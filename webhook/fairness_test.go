package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
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

// A workspace whose endpoint hangs, with 100 events queued before another workspace's, delays that one's events by
// less than a second, on the store of each kind: the claims find them past the backlog, and the hung endpoint holds
// half of the workers at most, then one.
func TestHungWorkspaceDelaysOthersLittle(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		var hung atomic.Int32
		released, release := releaser(t)
		stuck, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
			hung.Add(1)
			defer hung.Add(-1)
			<-released
		})
		arrived := make(chan string, 10)
		fine, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
			arrived <- r.Header.Get("X-Optout-Event-Id")
		})
		for id, url := range map[string]string{"acme": stuck.URL, "globex": fine.URL} {
			_, err := st.PutWorkspace(t.Context(), &store.Workspace{ID: id, Name: id, Config: json.RawMessage(`{}`), WebhookURL: url, WebhookSecret: secret}, nil, nil)
			require.NoError(t, err)
		}
		event := func() *store.WebhookEvent {
			return &store.WebhookEvent{ID: string(uuids.NewV4()), ContactUUID: flows.ContactUUID(uuids.NewV4()), Body: json.RawMessage(`{}`)}
		}
		backlog := make([]*store.WebhookEvent, 100)
		for i := range backlog {
			backlog[i] = event()
		}
		require.NoError(t, st.Commit(t.Context(), &store.Change{Workspace: "acme", Webhooks: backlog}))

		worker := &webhook.Worker{Store: st, Policy: &webhook.Policy{AllowPrivate: true}, Concurrency: 8, Timeout: 20 * time.Second, Poll: time.Hour}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- worker.Run(ctx) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				release()
				cancel()
				assert.NoError(t, <-done)
			})
		}
		t.Cleanup(stop) // before the receivers close, which wait for the requests they hold
		worker.Nudge()
		require.Eventually(t, func() bool { return hung.Load() == 4 }, 10*time.Second, time.Millisecond, "half of the workers")

		// while acme's endpoint isn't known to hang, and once it is
		for i, after := range []time.Duration{0, webhook.DefaultSlowAfter + 500*time.Millisecond} {
			time.Sleep(after)
			ev := event()
			require.NoError(t, st.Commit(t.Context(), &store.Change{Workspace: "globex", Webhooks: []*store.WebhookEvent{ev}}))
			worker.Nudge()
			sent := time.Now()
			select {
			case id := <-arrived:
				assert.Equal(t, ev.ID, id)
				assert.Less(t, time.Since(sent), time.Second, "globex's event %d behind acme's hung endpoint", i+1)
			case <-time.After(10 * time.Second):
				t.Fatalf("globex's event %d never arrived", i+1)
			}
		}
		assert.LessOrEqual(t, hung.Load(), int32(4))

		stop()
		pending, err := st.WebhookEvents(t.Context(), "acme", store.WebhookPending, 0, 1000)
		require.NoError(t, err)
		assert.Len(t, pending, 100-4, "the hung attempts were answered once released, and recorded")
		claimed, err := st.ClaimWebhooks(t.Context(), time.Now(), time.Minute, 1000, nil)
		require.NoError(t, err)
		assert.Len(t, claimed, len(pending), fmt.Sprintf("the worker released the %d events it claimed and didn't start", len(pending)))
	})
}
