package store

import (
	"testing"

	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
)

func TestConsentEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		createWorkspace(t, s, "acme")
		createWorkspace(t, s, "other")
		ana := newContact("whatsapp:5511999990001", consent.OptedOut)
		bob := newContact("whatsapp:5511999990002", consent.OptedOut)

		events := []*ConsentEvent{
			{ContactUUID: ana.UUID, URN: ana.URN, Before: consent.Undefined, After: consent.OptedOut, Keyword: "parar", Language: "por", MsgUUID: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", Channel: "8e2f1c3a-4b5d-4e6f-9a0b-1c2d3e4f5a6b", Source: SourceKeyword, OccurredOn: at(1)},
			{ContactUUID: bob.UUID, URN: bob.URN, Before: consent.OptedIn, After: consent.OptedOut, Source: SourceAPI, OccurredOn: at(2)},
			{ContactUUID: ana.UUID, URN: ana.URN, Before: consent.OptedOut, After: consent.OptedIn, Keyword: "#voltar", Language: "por", Source: SourceFlow, OccurredOn: at(3)},
			{ContactUUID: ana.UUID, URN: ana.URN, Before: consent.OptedIn, After: consent.OptedOut, Source: SourceImport},
		}
		commit(t, s, &Change{Workspace: "acme", Contacts: []*Contact{ana}, Consent: events[:1]})
		commit(t, s, &Change{Workspace: "other", Consent: events[1:2]}) // another workspace's log
		commit(t, s, &Change{Workspace: "acme", Consent: events[1:]})

		all, err := s.ConsentEvents(t.Context(), "acme", "", 0, 10)
		require.NoError(t, err)
		require.Len(t, all, 4)
		for i, e := range all {
			assert.Positive(t, e.ID)
			if i > 0 {
				assert.Greater(t, e.ID, all[i-1].ID)
			}
			expected := *events[i]
			expected.ID = e.ID
			assert.Equal(t, &expected, e)
		}
		assert.True(t, all[3].OccurredOn.IsZero())

		page, err := s.ConsentEvents(t.Context(), "acme", "", all[0].ID, 2)
		require.NoError(t, err)
		assert.Equal(t, all[1:3], page)
		page, err = s.ConsentEvents(t.Context(), "acme", "", all[3].ID, 2)
		require.NoError(t, err)
		assert.Empty(t, page)

		ofAna, err := s.ConsentEvents(t.Context(), "acme", ana.URN, 0, 10)
		require.NoError(t, err)
		assert.Equal(t, []*ConsentEvent{all[0], all[2], all[3]}, ofAna)
		ofAna, err = s.ConsentEvents(t.Context(), "acme", ana.URN, all[0].ID, 1)
		require.NoError(t, err)
		assert.Equal(t, []*ConsentEvent{all[2]}, ofAna)

		none, err := s.ConsentEvents(t.Context(), "acme", urns.URN("whatsapp:5511999990009"), 0, 10)
		require.NoError(t, err)
		assert.Empty(t, none)

		ofOther, err := s.ConsentEvents(t.Context(), "other", "", 0, 10)
		require.NoError(t, err)
		require.Len(t, ofOther, 1)
		assert.Equal(t, bob.UUID, ofOther[0].ContactUUID)
	})
}
