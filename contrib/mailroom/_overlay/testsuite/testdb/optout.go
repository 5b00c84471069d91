package testdb

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/test"
	"github.com/nyaruka/mailroom/v26/core/models"
	"github.com/nyaruka/mailroom/v26/runtime"
	"github.com/optout-dev/optout/consent"
	exports "github.com/optout-dev/optout/flows"
	"github.com/stretchr/testify/require"
)

// Resthook is a resthook inserted by a test.
type Resthook struct {
	ID   models.ResthookID
	Slug string
}

// ImportOptout sets the org up as importing flows/optout.json into RapidPro does: the two fields, the group and the
// flow, under a UUID of its own as RapidPro may give it. It returns the flow.
func ImportOptout(t *testing.T, rt *runtime.Runtime, org *Org) *Flow {
	data, err := exports.Exports.ReadFile(exports.Plugin)
	require.NoError(t, err)
	var export struct {
		Flows  []json.RawMessage `json:"flows"`
		Fields []struct {
			Key  string `json:"key"`
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"fields"`
		Groups []struct {
			Name string `json:"name"`
		} `json:"groups"`
	}
	require.NoError(t, json.Unmarshal(data, &export))

	valueTypes := map[string]string{"text": "T", "datetime": "D"}
	for _, f := range export.Fields {
		rt.DB.MustExec(`INSERT INTO contacts_contactfield(is_active, created_on, modified_on, uuid, is_system, key, name, value_type, is_proxy, show_in_table, priority, agent_access, created_by_id, modified_by_id, org_id)
		VALUES(TRUE, NOW(), NOW(), $1, FALSE, $2, $3, $4, FALSE, FALSE, 0, 'E', $5, $5, $6)`, uuids.NewV4(), f.Key, f.Name, valueTypes[f.Type], Admin.ID, org.ID)
	}
	for _, g := range export.Groups {
		InsertContactGroup(t, rt, org, assets.GroupUUID(uuids.NewV4()), g.Name, "")
	}
	require.Len(t, export.Flows, 1)
	return InsertFlow(t, rt, org, test.JSONReplace(export.Flows[0], []string{"uuid"}, []byte(`"`+string(uuids.NewV4())+`"`)))
}

// InsertResthook inserts a resthook.
func InsertResthook(t *testing.T, rt *runtime.Runtime, org *Org, slug string) *Resthook {
	var id models.ResthookID
	err := rt.DB.Get(&id, `INSERT INTO api_resthook(is_active, created_on, modified_on, slug, created_by_id, modified_by_id, org_id)
	VALUES(TRUE, NOW(), NOW(), $1, $2, $2, $3) RETURNING id`, slug, Admin.ID, org.ID)
	require.NoError(t, err)
	return &Resthook{ID: id, Slug: slug}
}

// InsertResthookSubscriber inserts a subscriber to the resthook, subscribed at the given time.
func InsertResthookSubscriber(t *testing.T, rt *runtime.Runtime, resthook *Resthook, url string, createdOn time.Time) int64 {
	var id int64
	err := rt.DB.Get(&id, `INSERT INTO api_resthooksubscriber(is_active, created_on, modified_on, target_url, created_by_id, modified_by_id, resthook_id)
	VALUES(TRUE, $1, NOW(), $2, $3, $3, $4) RETURNING id`, createdOn, url, Admin.ID, resthook.ID)
	require.NoError(t, err)
	return id
}

// InsertContactWithURN inserts an active contact with one URN.
func InsertContactWithURN(t *testing.T, rt *runtime.Runtime, org *Org, name string, lang i18n.Language, urn urns.URN) *Contact {
	c := InsertContact(t, rt, org, flows.NewContactUUID(), name, lang, models.ContactStatusActive)
	c.URN = urn
	c.URNID = InsertContactURN(t, rt, org, c, urn, 1000, nil)
	return c
}

// SetOptoutStatus sets the contact's optout_status field, as the plugin's actions do.
func SetOptoutStatus(t *testing.T, rt *runtime.Runtime, org *Org, contact *Contact, status consent.Status) {
	res := rt.DB.MustExec(`UPDATE contacts_contact c SET fields = COALESCE(c.fields, '{}') || jsonb_build_object(f.uuid::text, jsonb_build_object('text', $3::text))
	  FROM contacts_contactfield f WHERE c.id = $1 AND f.org_id = $2 AND f.key = $4 AND f.is_active`, contact.ID, org.ID, string(status), consent.StatusField)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "no contact or no %s field", consent.StatusField)
}
