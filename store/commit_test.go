package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
)

// optOutChange is the change that opting a contact out by keyword makes.
func optOutChange(workspace string, c *Contact, msg flows.InputUUID) *Change {
	return &Change{
		Workspace: workspace,
		Message:   &ProcessedMessage{UUID: msg, Response: json.RawMessage(`{"handled": true, "reply": "Seu pedido para sair da conversa foi atendido."}`)},
		Contacts:  []*Contact{c},
		Consent: []*ConsentEvent{{
			ContactUUID: c.UUID, URN: c.URN, Before: consent.Undefined, After: consent.OptedOut, Keyword: "parar",
			Language: "por", MsgUUID: msg, Channel: "8e2f1c3a-4b5d-4e6f-9a0b-1c2d3e4f5a6b", Source: SourceKeyword, OccurredOn: at(1),
		}},
		Webhooks: []*WebhookEvent{{ID: string(uuids.NewV4()), ContactUUID: c.UUID, Body: json.RawMessage(`{"event":"opted_out"}`), CreatedOn: at(1)}},
		Outbox:   []*OutgoingMsg{{ContactUUID: c.UUID, URN: c.URN, Text: "Seu pedido para sair da conversa foi atendido.", Source: "reply", CreatedOn: at(1)}},
		Session:  &Session{UUID: flows.SessionUUID(uuids.NewV4()), ContactUUID: c.UUID, Data: json.RawMessage(`{}`)},
	}
}

// counts are how many rows the tables a change writes to have.
func counts(t *testing.T, s Store) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range []string{"processed_messages", "campaign_fires", "contacts", "contact_groups", "sessions", "consent_events", "webhook_events", "outbox"} {
		var n int
		require.NoError(t, s.(*store).db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM `+table).Scan(&n))
		counts[table] = n
	}
	return counts
}

func TestCommitMessageOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		ana := newContact("whatsapp:5511999990001", consent.OptedOut, optedOutGroup)
		msg := flows.InputUUID("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")

		_, err := s.ProcessedMessage(t.Context(), "acme", msg)
		assert.ErrorIs(t, err, ErrNotFound)

		first := optOutChange("acme", ana, msg)
		commit(t, s, first)
		response, err := s.ProcessedMessage(t.Context(), "acme", msg)
		require.NoError(t, err)
		assert.JSONEq(t, string(first.Message.Response), string(response))
		written := counts(t, s)

		// the same message again writes nothing of its change, not even the contact's other changes
		bob := newContact("whatsapp:5511999990002", consent.OptedOut)
		again := optOutChange("acme", bob, msg)
		again.Message.Response = json.RawMessage(`{"handled": false}`)
		again.Contacts = append(again.Contacts, &Contact{UUID: ana.UUID, URN: ana.URN, OptStatus: consent.OptedIn, Data: json.RawMessage(`{}`)})
		again.EndSessions = []flows.ContactUUID{ana.UUID}
		err = s.Commit(t.Context(), again)
		assert.ErrorIs(t, err, ErrConflict)
		assert.Equal(t, written, counts(t, s))

		response, err = s.ProcessedMessage(t.Context(), "acme", msg)
		require.NoError(t, err)
		assert.JSONEq(t, string(first.Message.Response), string(response))
		got, err := s.ContactByURN(t.Context(), "acme", ana.URN)
		require.NoError(t, err)
		assert.Equal(t, consent.OptedOut, got.OptStatus)
		_, err = s.WaitingSession(t.Context(), "acme", ana.UUID)
		assert.NoError(t, err)

		// in another workspace, it is another message
		commit(t, s, optOutChange("other", ana, msg))
	})
}

func TestCommitMessageRace(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		stores := []Store{db.open(t), db.open(t)}
		createWorkspace(t, stores[0], "acme")
		msg := flows.InputUUID("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")

		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				c := newContact(fmt.Sprintf("whatsapp:551199999%04d", i), consent.OptedOut)
				errs[i] = stores[i%2].Commit(t.Context(), optOutChange("acme", c, msg))
			})
		}
		wg.Wait()

		committed := 0
		for _, err := range errs {
			if err == nil {
				committed++
			} else {
				assert.ErrorIs(t, err, ErrConflict)
			}
		}
		assert.Equal(t, 1, committed)
		assert.Equal(t, 1, counts(t, stores[0])["contacts"])
	})
}

func TestCommitCampaignFireOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		ana := newContact("whatsapp:5511999990001", consent.OptedIn)
		bob := newContact("whatsapp:5511999990002", consent.OptedOut)
		const event = "bc7b249c-f5f4-4b9f-9193-f4ef007b0d77"
		commit(t, s, &Change{Workspace: "acme", Contacts: []*Contact{ana, bob}})

		fired, err := s.CampaignFired(t.Context(), "acme", event, []flows.ContactUUID{ana.UUID, bob.UUID})
		require.NoError(t, err)
		assert.Empty(t, fired)

		commit(t, s, &Change{
			Workspace:    "acme",
			CampaignFire: &CampaignFire{Event: event, ContactUUID: ana.UUID, Decision: "send", FiredOn: at(3)},
			Outbox:       []*OutgoingMsg{{ContactUUID: ana.UUID, URN: ana.URN, Text: "Your appointment is coming up", Source: "campaign"}},
		})
		commit(t, s, &Change{
			Workspace:    "acme",
			CampaignFire: &CampaignFire{Event: event, ContactUUID: bob.UUID, Decision: "skip", Reason: "opted_out", FiredOn: at(3)},
		})
		written := counts(t, s)

		err = s.Commit(t.Context(), &Change{
			Workspace:    "acme",
			CampaignFire: &CampaignFire{Event: event, ContactUUID: ana.UUID, Decision: "send", FiredOn: at(4)},
			Outbox:       []*OutgoingMsg{{ContactUUID: ana.UUID, URN: ana.URN, Text: "Your appointment is coming up", Source: "campaign"}},
		})
		assert.ErrorIs(t, err, ErrConflict)
		assert.Equal(t, written, counts(t, s))

		fired, err = s.CampaignFired(t.Context(), "acme", event, []flows.ContactUUID{ana.UUID, bob.UUID, "00000000-0000-4000-8000-000000000000"})
		require.NoError(t, err)
		assert.Equal(t, map[flows.ContactUUID]bool{ana.UUID: true, bob.UUID: true}, fired)

		fired, err = s.CampaignFired(t.Context(), "acme", "00000000-0000-4000-8000-000000000001", []flows.ContactUUID{ana.UUID})
		require.NoError(t, err)
		assert.Empty(t, fired)
		fired, err = s.CampaignFired(t.Context(), "acme", event, nil)
		require.NoError(t, err)
		assert.Empty(t, fired)
	})
}

func TestCommitEmptyChange(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		commit(t, s, &Change{Workspace: "acme"})
		for table, n := range counts(t, s) {
			assert.Zero(t, n, table)
		}
	})
}

// A change committed in pages is one transaction: no page is seen before the last is written, and a failure after
// some pages leaves nothing of any, not even a waiting session that a page ended.
func TestCommitPages(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		waiting := newContact("whatsapp:5511999990001", consent.Undefined)
		commit(t, s, &Change{Workspace: "acme", Contacts: []*Contact{waiting}, Session: &Session{UUID: flows.SessionUUID(uuids.NewV4()), ContactUUID: waiting.UUID, Data: json.RawMessage(`{}`)}})
		before := counts(t, s)

		pages := func(write func(*Change) error) error {
			for p := range 3 {
				change := &Change{Workspace: "acme", At: at(0)}
				for i := range 100 {
					c := newContact(fmt.Sprintf("whatsapp:55%011d", p*100+i), consent.OptedOut, optedOutGroup)
					change.Contacts = append(change.Contacts, c)
					change.Consent = append(change.Consent, &ConsentEvent{ContactUUID: c.UUID, URN: c.URN, Before: consent.Undefined, After: consent.OptedOut, Source: SourceImport, OccurredOn: at(0)})
				}
				if p == 2 {
					change.EndSessions = []flows.ContactUUID{waiting.UUID}
				}
				if err := write(change); err != nil {
					return err
				}
				assert.Equal(t, before, counts(t, s), "page %d is seen before the change is committed", p)
			}
			return nil
		}

		failed := errors.New("the last row is bad")
		err := s.CommitPages(t.Context(), func(write func(*Change) error) error {
			if err := pages(write); err != nil {
				return err
			}
			return failed
		})
		assert.ErrorIs(t, err, failed)
		assert.Equal(t, before, counts(t, s), "nothing of a change that failed")

		require.NoError(t, s.CommitPages(t.Context(), pages))
		after := counts(t, s)
		assert.Equal(t, 301, after["contacts"])
		assert.Equal(t, 300, after["contact_groups"])
		assert.Equal(t, 300, after["consent_events"])
		assert.Equal(t, 0, after["sessions"])
	})
}

// import-contacts commits a list as one change, of a hundred thousand contacts or more, in seconds.
func TestCommitLargeChange(t *testing.T) {
	const n = largeChange

	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		change := &Change{Workspace: "acme", Contacts: make([]*Contact, n), Consent: make([]*ConsentEvent, n)}
		for i := range n {
			c := newContact(fmt.Sprintf("whatsapp:55%011d", i), consent.OptedOut, optedOutGroup)
			change.Contacts[i] = c
			change.Consent[i] = &ConsentEvent{ContactUUID: c.UUID, URN: c.URN, Before: consent.Undefined, After: consent.OptedOut, Source: SourceImport, OccurredOn: at(0)}
		}

		start := time.Now()
		commit(t, s, change)
		elapsed := time.Since(start)
		t.Logf("committed %d new contacts and consent events in %s", n, elapsed)
		assert.Less(t, elapsed, 30*time.Second)

		// and again, as updates
		for _, c := range change.Contacts {
			c.Name = "Imported"
		}
		start = time.Now()
		commit(t, s, change)
		elapsed = time.Since(start)
		t.Logf("committed them again, as updates, in %s", elapsed)
		assert.Less(t, elapsed, 30*time.Second)

		written := counts(t, s)
		assert.Equal(t, n, written["contacts"])
		assert.Equal(t, n, written["contact_groups"])
		assert.Equal(t, 2*n, written["consent_events"])

		page, err := s.OptedOut(t.Context(), "acme", 0, 1000)
		require.NoError(t, err)
		require.Len(t, page, 1000)
		assert.Equal(t, change.Contacts[0].UUID, page[0].UUID)
		assert.Equal(t, "Imported", page[999].Name)

		last, err := s.ContactsByURN(t.Context(), "acme", []urns.URN{change.Contacts[n-1].URN})
		require.NoError(t, err)
		require.Len(t, last, 1)
		assertContact(t, change.Contacts[n-1], last[0])
	})
}
