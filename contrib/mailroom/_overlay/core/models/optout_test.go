package models_test

import (
	"testing"

	"github.com/nyaruka/mailroom/v26/core/models"
	"github.com/nyaruka/mailroom/v26/testsuite"
	"github.com/nyaruka/mailroom/v26/testsuite/testdb"
	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/keywords"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptoutSettings(t *testing.T) {
	_, rt := testsuite.LocalRuntime(t)

	load := func(org *testdb.Org) (*models.OrgAssets, *models.OptoutSettings) {
		models.FlushCache()
		oa := org.Load(t, rt)
		settings, err := oa.Optout()
		require.NoError(t, err)
		return oa, settings
	}
	setConfig := func(org *testdb.Org, optout string) {
		rt.DB.MustExec(`UPDATE orgs_org SET config = config || jsonb_build_object('optout', $2::jsonb) WHERE id = $1`, org.ID, optout)
	}
	t.Cleanup(func() { rt.DB.MustExec(`UPDATE orgs_org SET config = config - 'optout'`) })

	// an org that hasn't imported the flow is left alone
	oa, settings := load(testdb.Org1)
	assert.Nil(t, settings.Flow)
	assert.Same(t, config.Default, settings.Config)
	assert.Equal(t, "optout", settings.Resthook)

	// a flow of its own with the flow's name doesn't make it use the plugin
	testdb.InsertFlow(t, rt, testdb.Org2, []byte(`{"uuid": "8b7b0a4e-0c3a-4a52-8c8e-5d0c1f4c3a11", "name": "Opt-Out", "spec_version": "13.0.0", "language": "eng", "type": "messaging", "nodes": []}`))
	_, settings = load(testdb.Org2)
	assert.Nil(t, settings.Flow)

	// importing flows/optout.json does, whatever UUID RapidPro gave the flow
	flow := testdb.ImportOptout(t, rt, testdb.Org1)
	oa, settings = load(testdb.Org1)
	require.NotNil(t, settings.Flow)
	assert.Equal(t, flow.UUID, settings.Flow.UUID())
	again, err := oa.Optout()
	require.NoError(t, err)
	assert.Same(t, settings, again, "read once per org assets")

	// the plugin's actions and router find the org's configuration, and know mailroom handles their event
	assert.Same(t, settings.Config, config.For(oa.SessionAssets()))
	assert.True(t, consent.HostHandlesChanged(oa.SessionAssets()))

	// an operator configures the org
	setConfig(testdb.Org1, `{"flow": "`+string(flow.UUID)+`", "resthook": "consent", "config": {"group": "Não Perturbe", "keywords": {"opt_out": {"add": {"por": ["chega"]}}}}}`)
	oa, settings = load(testdb.Org1)
	assert.Equal(t, flow.UUID, settings.Flow.UUID())
	assert.Equal(t, "consent", settings.Resthook)
	assert.Equal(t, "Não Perturbe", settings.Config.Group)
	assert.Equal(t, keywords.OptOut, config.For(oa.SessionAssets()).Keywords.Match("Chega!", "por").Intent)

	// a mistake in the configuration leaves the defaults for it, and the rest applies
	setConfig(testdb.Org1, `{"resthook": "consent", "config": {"group": "   "}, "flow": "`+string(flow.UUID)+`"}`)
	_, settings = load(testdb.Org1)
	assert.Same(t, config.Default, settings.Config)
	assert.Equal(t, "consent", settings.Resthook)
	assert.Equal(t, flow.UUID, settings.Flow.UUID())

	// as does one in the settings themselves
	setConfig(testdb.Org1, `{"resthok": "consent"}`)
	_, settings = load(testdb.Org1)
	assert.Equal(t, "optout", settings.Resthook)
	assert.Equal(t, flow.UUID, settings.Flow.UUID())

	// a configured flow is taken as it is, and one that doesn't exist catches nothing
	setConfig(testdb.Org1, `{"flow": "`+string(testdb.Favorites.UUID)+`"}`)
	_, settings = load(testdb.Org1)
	assert.Equal(t, testdb.Favorites.UUID, settings.Flow.UUID())
	setConfig(testdb.Org1, `{"flow": "0e7a8b5c-4a8e-4d8f-9d43-2a0a2f0e9b1c"}`)
	_, settings = load(testdb.Org1)
	assert.Nil(t, settings.Flow)
}
