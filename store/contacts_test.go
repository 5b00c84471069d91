package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
)

const (
	membersGroup  = assets.GroupUUID("1019499d-fcee-4910-b05c-ca18ccdcbadb")
	optedOutGroup = assets.GroupUUID("5a0b6c9d-8e7f-4a1b-9c2d-3e4f5a6b7c8d")
)

// assertContact asserts that a contact read back is the one written, with the ID and the time of creation the store
// gave it, and its JSON as JSON, which PostgreSQL doesn't keep byte for byte.
func assertContact(t *testing.T, expected, actual *Contact) {
	t.Helper()
	assert.Positive(t, actual.ID)
	assert.False(t, actual.CreatedOn.IsZero())
	assert.JSONEq(t, string(expected.Data), string(actual.Data))

	e := *expected
	e.ID, e.CreatedOn, e.Data = actual.ID, actual.CreatedOn, actual.Data
	assert.Equal(t, &e, actual)
}

func TestContacts(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")

		before := time.Now().Add(-time.Second).UTC()
		ana := newContact("whatsapp:5511999990001", consent.OptedOut, membersGroup, optedOutGroup)
		ana.LastInboundOn = at(5)
		bob := newContact("whatsapp:5511999990002", consent.OptedIn, membersGroup)
		cid := newContact("whatsapp:5511999990003", consent.Undefined)
		commit(t, s, &Change{Workspace: "acme", Contacts: []*Contact{ana, bob, cid}})

		got, err := s.ContactByURN(t.Context(), "acme", ana.URN)
		require.NoError(t, err)
		assertContact(t, ana, got)
		assert.True(t, got.CreatedOn.After(before))
		anaID, anaCreated := got.ID, got.CreatedOn

		got, err = s.ContactByURN(t.Context(), "acme", cid.URN)
		require.NoError(t, err)
		assertContact(t, cid, got)
		assert.Nil(t, got.Groups)
		assert.True(t, got.OptChangedOn.IsZero())
		assert.True(t, got.LastInboundOn.IsZero())

		_, err = s.ContactByURN(t.Context(), "acme", "whatsapp:5511999990009")
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.ContactByURN(t.Context(), "other", ana.URN)
		assert.ErrorIs(t, err, ErrNotFound)

		// updating by UUID keeps the ID and the time of creation, and replaces the groups
		ana2 := *ana
		ana2.URN = "whatsapp:5511999990011"
		ana2.Name = "Ana Maria"
		ana2.Language = "spa"
		ana2.OptStatus = consent.OptedIn
		ana2.OptChangedOn = at(10)
		ana2.Groups = []assets.GroupUUID{optedOutGroup}
		ana2.Data = json.RawMessage(`{"name": "Ana Maria"}`)
		commit(t, s, &Change{Workspace: "acme", Contacts: []*Contact{&ana2}})

		got, err = s.ContactByURN(t.Context(), "acme", ana2.URN)
		require.NoError(t, err)
		assertContact(t, &ana2, got)
		assert.Equal(t, anaID, got.ID)
		assert.Equal(t, anaCreated, got.CreatedOn)
		_, err = s.ContactByURN(t.Context(), "acme", ana.URN)
		assert.ErrorIs(t, err, ErrNotFound)

		// the same contact in another workspace is another contact
		commit(t, s, &Change{Workspace: "other", Contacts: []*Contact{ana}})
		got, err = s.ContactByURN(t.Context(), "other", ana.URN)
		require.NoError(t, err)
		assert.NotEqual(t, anaID, got.ID)

		// a batch of URNs reads the contacts that exist, by ID
		batch, err := s.ContactsByURN(t.Context(), "acme", []urns.URN{cid.URN, "whatsapp:5511999990009", ana2.URN, bob.URN, ana.URN})
		require.NoError(t, err)
		require.Len(t, batch, 3)
		assertContact(t, &ana2, batch[0])
		assertContact(t, bob, batch[1])
		assertContact(t, cid, batch[2])

		batch, err = s.ContactsByURN(t.Context(), "acme", nil)
		require.NoError(t, err)
		assert.Empty(t, batch)
	})
}

func TestContactListedTwice(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		ana := newContact("whatsapp:5511999990001", consent.Undefined, membersGroup)
		ana2 := *ana
		ana2.OptStatus = consent.OptedOut
		ana2.Groups = []assets.GroupUUID{optedOutGroup, optedOutGroup}
		commit(t, s, &Change{Workspace: "acme", Contacts: []*Contact{ana, &ana2}})

		got, err := s.ContactByURN(t.Context(), "acme", ana.URN)
		require.NoError(t, err)
		assert.Equal(t, consent.OptedOut, got.OptStatus)
		assert.Equal(t, []assets.GroupUUID{optedOutGroup}, got.Groups)
	})
}

func TestContactsByURNBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		contacts := make([]*Contact, 2000)
		list := make([]urns.URN, 0, 2*len(contacts))
		for i := range contacts {
			contacts[i] = newContact(fmt.Sprintf("whatsapp:55119%08d", i), consent.Undefined)
			list = append(list, contacts[i].URN, urns.URN(fmt.Sprintf("whatsapp:55118%08d", i)))
		}
		commit(t, s, &Change{Workspace: "acme", Contacts: contacts})

		got, err := s.ContactsByURN(t.Context(), "acme", list)
		require.NoError(t, err)
		require.Len(t, got, len(contacts))
		for i, c := range got {
			assert.Equal(t, contacts[i].UUID, c.UUID)
		}
	})
}

func TestGroupContactsAndOptedOut(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")

		var members, optedOut []flows.ContactUUID
		var contacts []*Contact
		for i := range 25 {
			status, groups := consent.OptedIn, []assets.GroupUUID{}
			if i%2 == 0 {
				groups = append(groups, membersGroup)
			}
			if i%3 == 0 {
				status = consent.OptedOut
				groups = append(groups, optedOutGroup)
			}
			c := newContact(fmt.Sprintf("whatsapp:55119999%04d", i), status, groups...)
			contacts = append(contacts, c)
			if i%2 == 0 {
				members = append(members, c.UUID)
			}
			if i%3 == 0 {
				optedOut = append(optedOut, c.UUID)
			}
		}
		contacts[2].LastInboundOn = at(2)
		commit(t, s, &Change{Workspace: "acme", Contacts: contacts})
		// the same group in another workspace has other members
		commit(t, s, &Change{Workspace: "other", Contacts: []*Contact{newContact("whatsapp:5511999990001", consent.OptedOut, membersGroup)}})

		read := func(page func(after int64) ([]*Contact, error)) []flows.ContactUUID {
			var uuids []flows.ContactUUID
			var after int64
			for {
				batch, err := page(after)
				require.NoError(t, err)
				if len(batch) == 0 {
					return uuids
				}
				assert.LessOrEqual(t, len(batch), 4)
				for _, c := range batch {
					assert.Greater(t, c.ID, after)
					after = c.ID
					uuids = append(uuids, c.UUID)
				}
			}
		}

		assert.Equal(t, members, read(func(after int64) ([]*Contact, error) {
			return s.GroupContacts(t.Context(), "acme", membersGroup, after, 4)
		}))
		assert.Equal(t, optedOut, read(func(after int64) ([]*Contact, error) {
			return s.OptedOut(t.Context(), "acme", after, 4)
		}))

		page, err := s.GroupContacts(t.Context(), "acme", membersGroup, 0, 2)
		require.NoError(t, err)
		require.Len(t, page, 2)
		assertContact(t, contacts[0], page[0])
		assertContact(t, contacts[2], page[1])

		// a group's recipients are its members, in the same order, with what deciding for them takes
		var recipients []flows.ContactUUID
		for after := int64(0); ; {
			batch, err := s.GroupRecipients(t.Context(), "acme", membersGroup, after, 4)
			require.NoError(t, err)
			if len(batch) == 0 {
				break
			}
			assert.LessOrEqual(t, len(batch), 4)
			for _, r := range batch {
				recipients = append(recipients, r.UUID)
				after = r.ID
			}
		}
		assert.Equal(t, members, recipients)
		first, err := s.GroupRecipients(t.Context(), "acme", membersGroup, 0, 2)
		require.NoError(t, err)
		assert.Equal(t, []Recipient{
			{ID: page[0].ID, UUID: contacts[0].UUID, URN: contacts[0].URN, OptStatus: consent.OptedOut},
			{ID: page[1].ID, UUID: contacts[2].UUID, URN: contacts[2].URN, OptStatus: consent.OptedIn, LastInboundOn: at(2)},
		}, first)
		none, err := s.GroupRecipients(t.Context(), "acme", "b0b1b2b3-0000-4000-8000-000000000000", 0, 10)
		require.NoError(t, err)
		assert.Empty(t, none)

		page, err = s.OptedOut(t.Context(), "acme", 0, 1)
		require.NoError(t, err)
		require.Len(t, page, 1)
		assertContact(t, contacts[0], page[0])

		page, err = s.GroupContacts(t.Context(), "acme", "b0b1b2b3-0000-4000-8000-000000000000", 0, 10)
		require.NoError(t, err)
		assert.Empty(t, page)
	})
}

func TestSessions(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		ana := newContact("whatsapp:5511999990001", consent.Undefined)
		bob := newContact("whatsapp:5511999990002", consent.Undefined)

		_, err := s.WaitingSession(t.Context(), "acme", ana.UUID)
		assert.ErrorIs(t, err, ErrNotFound)

		first := &Session{UUID: "3e5b1a90-5a3c-4a7e-9f0d-1c2b3a4d5e6f", ContactUUID: ana.UUID, Data: json.RawMessage(`{"status": "waiting", "runs": []}`), ExpiresOn: at(60)}
		commit(t, s, &Change{Workspace: "acme", Contacts: []*Contact{ana, bob}, Session: first})
		got, err := s.WaitingSession(t.Context(), "acme", ana.UUID)
		require.NoError(t, err)
		assert.JSONEq(t, string(first.Data), string(got.Data))
		got.Data = first.Data
		assert.Equal(t, first, got)

		// a new session replaces the contact's, and one without expiry has the zero time
		second := &Session{UUID: "4f6c2b01-6b4d-4b8f-8a1e-2d3c4b5e6f70", ContactUUID: ana.UUID, Data: json.RawMessage(`{"status": "waiting"}`)}
		third := &Session{UUID: "5a7d3c12-7c5e-4c9a-9b2f-3e4d5c6f7a81", ContactUUID: bob.UUID, Data: json.RawMessage(`{}`)}
		commit(t, s, &Change{Workspace: "acme", Session: second})
		commit(t, s, &Change{Workspace: "acme", Session: third})
		got, err = s.WaitingSession(t.Context(), "acme", ana.UUID)
		require.NoError(t, err)
		assert.Equal(t, second.UUID, got.UUID)
		assert.True(t, got.ExpiresOn.IsZero())

		// ending the session of the contact the change has a session for doesn't end that one
		commit(t, s, &Change{Workspace: "acme", Session: second, EndSessions: []flows.ContactUUID{ana.UUID}})
		_, err = s.WaitingSession(t.Context(), "acme", ana.UUID)
		assert.NoError(t, err)

		commit(t, s, &Change{Workspace: "acme", EndSessions: []flows.ContactUUID{ana.UUID}})
		_, err = s.WaitingSession(t.Context(), "acme", ana.UUID)
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.WaitingSession(t.Context(), "acme", bob.UUID)
		assert.NoError(t, err)

		// ending one contact's session while starting another's
		commit(t, s, &Change{Workspace: "acme", Session: first, EndSessions: []flows.ContactUUID{bob.UUID}})
		_, err = s.WaitingSession(t.Context(), "acme", ana.UUID)
		assert.NoError(t, err)
		_, err = s.WaitingSession(t.Context(), "acme", bob.UUID)
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.WaitingSession(t.Context(), "other", ana.UUID)
		assert.ErrorIs(t, err, ErrNotFound)

		// an import ends many at once
		commit(t, s, &Change{Workspace: "acme", Session: third})
		commit(t, s, &Change{Workspace: "acme", EndSessions: []flows.ContactUUID{ana.UUID, bob.UUID}})
		for _, c := range []flows.ContactUUID{ana.UUID, bob.UUID} {
			_, err = s.WaitingSession(t.Context(), "acme", c)
			assert.ErrorIs(t, err, ErrNotFound)
		}
	})
}

// TestMessageContact: one query reads whether a message was processed, and if not its contact, in each of the four
// cases.
func TestMessageContact(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		ana := newContact("whatsapp:5511999990001", consent.OptedOut, optedOutGroup)
		done := flows.InputUUID("0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")
		commit(t, s, optOutChange("acme", ana, done))
		fresh := flows.InputUUID("7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d")

		// a new message from a contact the workspace knows
		contact, answer, err := s.MessageContact(t.Context(), "acme", ana.URN, fresh)
		require.NoError(t, err)
		assert.Nil(t, answer)
		require.NotNil(t, contact)
		assertContact(t, ana, contact)

		// from one it doesn't, here or in another workspace
		for _, ws := range []string{"acme", "other"} {
			urn := map[string]urns.URN{"acme": "whatsapp:5511999990002", "other": ana.URN}[ws]
			contact, answer, err = s.MessageContact(t.Context(), ws, urn, fresh)
			require.NoError(t, err)
			assert.Nil(t, answer)
			assert.Nil(t, contact, ws)
		}

		// a message processed already: its answer, whoever sends it
		for _, urn := range []urns.URN{ana.URN, "whatsapp:5511999990002"} {
			contact, answer, err = s.MessageContact(t.Context(), "acme", urn, done)
			require.NoError(t, err)
			assert.JSONEq(t, `{"handled": true, "reply": "Seu pedido para sair da conversa foi atendido."}`, string(answer))
			assert.Nil(t, contact)
		}

		// one recorded without an answer, as WhatsApp's notifications are, was processed all the same
		silent := optOutChange("acme", ana, "whatsapp:wamid.HBgLNTUxMTk5OTk5MDAwMRUCABIYFjNFQjBDNzdGMkQ1")
		silent.Message.Response = nil
		commit(t, s, silent)
		contact, answer, err = s.MessageContact(t.Context(), "acme", ana.URN, silent.Message.UUID)
		require.NoError(t, err)
		assert.Equal(t, "null", string(answer))
		assert.Nil(t, contact)

		// no UUID at all: never processed
		contact, answer, err = s.MessageContact(t.Context(), "acme", ana.URN, "")
		require.NoError(t, err)
		assert.Nil(t, answer)
		assert.NotNil(t, contact)
	})
}
