package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/export"
)

func TestPutWorkspace(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		before := time.Now().Add(-time.Second)
		ws := &Workspace{
			ID:            "acme",
			Name:          "Acme",
			Config:        json.RawMessage(`{"default_language": "spa", "group": "Sin Mensajes"}`),
			WebhookURL:    "https://acme.example.com/optout",
			WebhookSecret: "sekret",
			TokenHash:     strings.Repeat("ab", 32),
		}
		created, err := s.PutWorkspace(t.Context(), ws, []string{"Sin Mensajes"}, nil)
		require.NoError(t, err)
		assert.True(t, created)
		assert.Equal(t, int64(1), ws.Version)
		assert.True(t, ws.CreatedOn.After(before), "created on %s", ws.CreatedOn)
		assert.Equal(t, ws.CreatedOn, ws.UpdatedOn)

		got, err := s.GetWorkspace(t.Context(), "acme")
		require.NoError(t, err)
		assert.JSONEq(t, string(ws.Config), string(got.Config))
		got.Config = ws.Config
		assert.Equal(t, ws, got)

		// updating bumps the version, and keeps when it was created
		ws2 := &Workspace{ID: "acme", Name: "Acme Inc", WebhookURL: "https://acme.example.com/v2"}
		created, err = s.PutWorkspace(t.Context(), ws2, []string{"sin mensajes", "Opted Out", "Opted Out"}, nil)
		require.NoError(t, err)
		assert.False(t, created)
		assert.Equal(t, int64(2), ws2.Version)
		assert.Equal(t, ws.CreatedOn, ws2.CreatedOn)
		assert.False(t, ws2.UpdatedOn.Before(ws.UpdatedOn))

		got, err = s.GetWorkspace(t.Context(), "acme")
		require.NoError(t, err)
		assert.Equal(t, ws2, got)
		assert.Nil(t, got.Config)
		assert.Empty(t, got.TokenHash)

		// groups are created when no group has the name in any case, once
		exp, err := s.Assets(t.Context(), "acme")
		require.NoError(t, err)
		require.Len(t, exp.Groups, 2)
		assert.Equal(t, "Sin Mensajes", exp.Groups[0].Name)
		assert.Equal(t, "Opted Out", exp.Groups[1].Name)
		assert.NotEqual(t, exp.Groups[0].UUID, exp.Groups[1].UUID)
		assert.Len(t, exp.Groups[0].UUID, 36)

		_, err = s.PutWorkspace(t.Context(), &Workspace{ID: "zeta", Name: "Zeta"}, nil, nil)
		require.NoError(t, err)
		_, err = s.PutWorkspace(t.Context(), &Workspace{ID: "Beta", Name: "Beta"}, nil, nil)
		require.NoError(t, err)
		ids, err := s.ListWorkspaces(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []string{"Beta", "acme", "zeta"}, ids)

		_, err = s.GetWorkspace(t.Context(), "nope")
		assert.ErrorIs(t, err, ErrNotFound)
	})
}

func TestWorkspaceByToken(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		hash := strings.Repeat("ab", 32)
		_, err := s.PutWorkspace(t.Context(), &Workspace{ID: "acme", TokenHash: hash}, nil, nil)
		require.NoError(t, err)
		_, err = s.PutWorkspace(t.Context(), &Workspace{ID: "tokenless"}, nil, nil)
		require.NoError(t, err)

		id, err := s.WorkspaceByToken(t.Context(), hash)
		require.NoError(t, err)
		assert.Equal(t, "acme", id)

		_, err = s.WorkspaceByToken(t.Context(), strings.Repeat("cd", 32))
		assert.ErrorIs(t, err, ErrNotFound)
		_, err = s.WorkspaceByToken(t.Context(), "")
		assert.ErrorIs(t, err, ErrNotFound)
	})
}

func TestListWorkspacesEmpty(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ids, err := s.ListWorkspaces(t.Context())
		require.NoError(t, err)
		assert.Empty(t, ids)
	})
}

// readExport reads an export for a test, failing it if it isn't valid.
func readExport(t *testing.T, data string) *export.Export {
	t.Helper()
	exp, err := export.Read([]byte(data))
	require.NoError(t, err)
	return exp
}

const firstExport = `{
	"version": "13",
	"flows": [
		{"uuid": "8ca44c09-791d-453a-9799-a70dd3303306", "name": "Welcome", "spec_version": "13.0.0", "language": "eng", "type": "messaging", "nodes": []},
		{"uuid": "a0a5d6e7-3b4c-4f56-8e9d-5f7a3c1b2d40", "name": "Survey", "spec_version": "13.0.0", "language": "eng", "type": "messaging_background", "nodes": []}
	],
	"fields": [{"key": "appointment", "name": "Appointment", "type": "datetime"}],
	"groups": [{"uuid": "1019499d-fcee-4910-b05c-ca18ccdcbadb", "name": "Members", "query": null}],
	"campaigns": [{
		"uuid": "17da8fee-8c29-4b12-a3f5-f2be042d00a5",
		"name": "Reminders",
		"group": {"uuid": "1019499d-fcee-4910-b05c-ca18ccdcbadb", "name": "Members"},
		"events": [{
			"uuid": "bc7b249c-f5f4-4b9f-9193-f4ef007b0d77", "offset": 1, "unit": "W", "event_type": "M", "delivery_hour": 9,
			"message": {"eng": "Your appointment is coming up", "por": "Sua consulta se aproxima"}, "base_language": "eng",
			"relative_to": {"label": "Appointment", "key": "appointment"}
		}]
	}],
	"triggers": [
		{"trigger_type": "K", "keywords": ["welcome"], "match_type": "O", "flow": {"uuid": "8ca44c09-791d-453a-9799-a70dd3303306", "name": "Welcome"}, "groups": []},
		{"trigger_type": "C", "flow": {"uuid": "a0a5d6e7-3b4c-4f56-8e9d-5f7a3c1b2d40", "name": "Survey"}, "groups": []}
	]
}`

// secondExport replaces the Welcome flow, the field, the group and the keyword trigger, and adds a flow and a trigger.
const secondExport = `{
	"version": "13",
	"flows": [
		{"uuid": "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9", "name": "Goodbye", "spec_version": "13.0.0", "language": "eng", "type": "messaging", "nodes": []},
		{"uuid": "8ca44c09-791d-453a-9799-a70dd3303306", "name": "Welcome Again", "spec_version": "13.0.0", "language": "spa", "type": "messaging", "nodes": []}
	],
	"fields": [{"key": "appointment", "name": "Next Appointment", "type": "datetime"}],
	"groups": [{"uuid": "1019499d-fcee-4910-b05c-ca18ccdcbadb", "name": "Members Only"}],
	"triggers": [
		{"trigger_type": "K", "keywords": ["welcome"], "match_type": "O", "flow": {"uuid": "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9", "name": "Goodbye"}, "groups": []},
		{"trigger_type": "K", "keywords": ["bye"], "match_type": "F", "flow": {"uuid": "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9", "name": "Goodbye"}, "groups": []}
	]
}`

func TestImportAndAssets(t *testing.T) {
	first, second := readExport(t, firstExport), readExport(t, secondExport)

	eachStore(t, func(t *testing.T, s Store) {
		ws := createWorkspace(t, s, "acme")

		// a workspace with nothing imported has an empty export
		exp, err := s.Assets(t.Context(), "acme")
		require.NoError(t, err)
		assert.Equal(t, &export.Export{Version: export.CurrentVersion, Flows: []*export.Flow{}, Fields: []*export.Field{},
			Groups: []*export.Group{}, Campaigns: []*export.Campaign{}, Triggers: []*export.Trigger{}}, exp)

		require.NoError(t, s.Import(t.Context(), "acme", first))
		exp, err = s.Assets(t.Context(), "acme")
		require.NoError(t, err)
		assertExport(t, first, exp)

		got, err := s.GetWorkspace(t.Context(), "acme")
		require.NoError(t, err)
		assert.Equal(t, ws.Version+1, got.Version)

		// what the second replaces keeps its place, and what it adds comes after
		require.NoError(t, s.Import(t.Context(), "acme", second))
		exp, err = s.Assets(t.Context(), "acme")
		require.NoError(t, err)
		assertExport(t, &export.Export{
			Flows:     []*export.Flow{second.Flows[1], first.Flows[1], second.Flows[0]},
			Fields:    second.Fields,
			Groups:    second.Groups,
			Campaigns: first.Campaigns,
			Triggers:  []*export.Trigger{second.Triggers[0], first.Triggers[1], second.Triggers[1]},
		}, exp)
		assert.Equal(t, "Welcome Again", exp.Flows[0].Name)

		got, err = s.GetWorkspace(t.Context(), "acme")
		require.NoError(t, err)
		assert.Equal(t, ws.Version+2, got.Version)

		// the same export in another workspace is another workspace's
		createWorkspace(t, s, "other")
		require.NoError(t, s.Import(t.Context(), "other", second))
		exp, err = s.Assets(t.Context(), "other")
		require.NoError(t, err)
		assertExport(t, second, exp)

		assert.ErrorIs(t, s.Import(t.Context(), "nope", first), ErrNotFound)
	})
}

// assertExport asserts that the assets read back are those expected, as exports of the current version, comparing flow
// definitions as JSON, which PostgreSQL doesn't keep byte for byte.
func assertExport(t *testing.T, expected, actual *export.Export) {
	t.Helper()
	assert.Equal(t, export.CurrentVersion, actual.Version)

	require.Len(t, actual.Flows, len(expected.Flows))
	for i, f := range expected.Flows {
		assert.Equal(t, f.UUID, actual.Flows[i].UUID)
		assert.Equal(t, f.Name, actual.Flows[i].Name)
		assert.Equal(t, f.Type, actual.Flows[i].Type)
		assert.JSONEq(t, string(f.Definition), string(actual.Flows[i].Definition))
	}

	assert.Equal(t, expected.Fields, actual.Fields)
	assert.Equal(t, expected.Groups, actual.Groups)
	assert.Equal(t, orEmpty(expected.Campaigns), actual.Campaigns)
	assert.Equal(t, expected.Triggers, actual.Triggers)

	// and the export is one that reads back
	data, err := jsonx.Marshal(actual)
	require.NoError(t, err)
	_, err = export.Read(data)
	assert.NoError(t, err)
}

func orEmpty[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}

// A token opens one workspace: giving it to a second is refused in the write's own transaction, also when two puts
// race, and the first keeps it.
func TestTokenIsOneWorkspaces(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		acme := &Workspace{ID: "acme", Name: "Acme", TokenHash: "hash-of-a-token"}
		_, err := s.PutWorkspace(t.Context(), acme, nil, nil)
		require.NoError(t, err)
		_, err = s.PutWorkspace(t.Context(), &Workspace{ID: "other", Name: "Other", TokenHash: "hash-of-a-token"}, nil, nil)
		assert.ErrorIs(t, err, ErrTokenInUse)
		_, err = s.GetWorkspace(t.Context(), "other")
		assert.ErrorIs(t, err, ErrNotFound, "nothing of the refused put was written")
		_, err = s.PutWorkspace(t.Context(), acme, nil, nil)
		assert.NoError(t, err, "a workspace may be put again with its own token")

		errs := make(chan error, 8)
		for i := range cap(errs) {
			go func() {
				_, err := s.PutWorkspace(t.Context(), &Workspace{ID: fmt.Sprintf("racer-%d", i), TokenHash: "hash-of-a-raced-token"}, nil, nil)
				errs <- err
			}()
		}
		won := 0
		for range cap(errs) {
			if err := <-errs; err == nil {
				won++
			} else {
				assert.ErrorIs(t, err, ErrTokenInUse)
			}
		}
		assert.Equal(t, 1, won)
	})
}

// Version 2 of the schema makes tokens unique. A token that several workspaces had opened all of them: it is taken
// from each, and a token only one had stays.
func TestMigrationTakesSharedTokens(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		// a database at version 1
		raw := db.open(t).(*store).db
		for _, stmt := range append(undoVersion3, `DELETE FROM schema_migrations WHERE version >= 2`, `DROP INDEX workspaces_token_hash`,
			`CREATE INDEX workspaces_token_hash ON workspaces (token_hash) WHERE token_hash <> ''`) {
			_, err := raw.ExecContext(t.Context(), stmt)
			require.NoError(t, err)
		}
		for id, hash := range map[string]string{"a": "shared", "b": "shared", "c": "own"} {
			_, err := raw.ExecContext(t.Context(), `INSERT INTO workspaces (id, name, webhook_url, webhook_secret, token_hash, version, created_on, updated_on)
				VALUES ($1, $1, '', '', $2, 1, 0, 0)`, id, hash)
			require.NoError(t, err)
		}

		s := db.open(t)
		for id, hash := range map[string]string{"a": "", "b": "", "c": "own"} {
			ws, err := s.GetWorkspace(t.Context(), id)
			require.NoError(t, err)
			assert.Equal(t, hash, ws.TokenHash, id)
		}
		_, err := s.PutWorkspace(t.Context(), &Workspace{ID: "d", TokenHash: "own"}, nil, nil)
		assert.ErrorIs(t, err, ErrTokenInUse)
	})
}

// A group is created once, whatever the case of its name and however many ask at once, and counted by its members.
func TestCreateGroup(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		ws := createWorkspace(t, s, "acme")
		created := make(chan bool, 4)
		for _, name := range []string{"Customers", "customers", "CUSTOMERS", "Customers"} {
			go func() {
				ok, err := s.CreateGroup(t.Context(), "acme", name)
				assert.NoError(t, err)
				created <- ok
			}()
		}
		n := 0
		for range cap(created) {
			if <-created {
				n++
			}
		}
		assert.Equal(t, 1, n)

		exp, err := s.Assets(t.Context(), "acme")
		require.NoError(t, err)
		require.Len(t, exp.Groups, 1)
		after, err := s.GetWorkspace(t.Context(), "acme")
		require.NoError(t, err)
		assert.Greater(t, after.Version, ws.Version, "instances reload the workspace's assets")

		group := exp.Groups[0].UUID
		commit(t, s, &Change{Workspace: "acme", Contacts: []*Contact{
			newContact("whatsapp:5511987650001", "", group), newContact("whatsapp:5511987650002", "", group), newContact("whatsapp:5511987650003", ""),
		}})
		counts, err := s.GroupCounts(t.Context(), "acme")
		require.NoError(t, err)
		assert.Equal(t, map[assets.GroupUUID]int{group: 2}, counts)

		_, err = s.CreateGroup(t.Context(), "nobody", "Customers")
		assert.ErrorIs(t, err, ErrNotFound)
	})
}

// Deleting a workspace deletes everything it holds, and nothing of another's.
func TestDeleteWorkspace(t *testing.T) {
	eachStore(t, func(t *testing.T, s Store) {
		for _, id := range []string{"acme", "globex"} {
			createWorkspace(t, s, id)
			_, err := s.CreateGroup(t.Context(), id, "Customers")
			require.NoError(t, err)
			ana := newContact("whatsapp:5511987650001", "opted_out", "c5e233f5-4946-4ec9-b1b2-771dc9d71381")
			bia := newContact("whatsapp:5511987650002", "")
			event := &WebhookEvent{ID: string(uuids.NewV4()), ContactUUID: ana.UUID, Body: json.RawMessage(`{}`), CreatedOn: at(0)}
			commit(t, s, &Change{Workspace: id, Message: &ProcessedMessage{UUID: "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", Response: json.RawMessage(`{}`)},
				Contacts: []*Contact{ana, bia}, Session: &Session{UUID: "4f6c2b01-6b4d-4b8f-8a1e-2d3c4b5e6f70", ContactUUID: ana.UUID, Data: json.RawMessage(`{}`)},
				Consent:  []*ConsentEvent{{ContactUUID: ana.UUID, URN: ana.URN, After: "opted_out", Source: SourceKeyword, OccurredOn: at(0)}},
				Webhooks: []*WebhookEvent{event}, Outbox: []*OutgoingMsg{{URN: ana.URN, Text: "bye", Source: "reply", CreatedOn: at(0)}}})
			b := &Broadcast{ID: string(uuids.NewV4()), Workspace: id, Request: json.RawMessage(`{}`), CreatedOn: at(0)}
			require.NoError(t, s.CreateBroadcast(t.Context(), b))
			require.NoError(t, s.AddBroadcastBatch(t.Context(), b.ID, []*BroadcastRecipient{{URN: bia.URN, Decision: "send"}}, nil))
		}
		counts, err := s.CountContacts(t.Context())
		require.NoError(t, err)
		assert.Equal(t, map[string]ContactCounts{"acme": {Contacts: 2, OptedOut: 1}, "globex": {Contacts: 2, OptedOut: 1}}, counts)

		require.NoError(t, s.DeleteWorkspace(t.Context(), "acme"))
		_, err = s.GetWorkspace(t.Context(), "acme")
		assert.ErrorIs(t, err, ErrNotFound)
		assert.ErrorIs(t, s.DeleteWorkspace(t.Context(), "acme"), ErrNotFound)

		// nothing of it is left in any table, and the other workspace has all of its own
		db := s.(*store).db
		for _, table := range []string{"workspace_assets", "contacts", "contact_groups", "sessions", "processed_messages", "consent_events", "webhook_events", "outbox", "broadcasts"} {
			for ws, want := range map[string]int{"acme": 0, "globex": 1} {
				var n int
				require.NoError(t, db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table+" WHERE workspace = $1", ws).Scan(&n))
				if want == 0 {
					assert.Zero(t, n, "%s rows of the deleted workspace", table)
				} else {
					assert.NotZero(t, n, "%s rows of the other workspace", table)
				}
			}
		}
		counts, err = s.CountContacts(t.Context())
		require.NoError(t, err)
		assert.Equal(t, map[string]ContactCounts{"globex": {Contacts: 2, OptedOut: 1}}, counts)
	})
}
