package consent_test

import (
	"testing"

	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/assets/static"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/keywords"
)

func TestStatus(t *testing.T) {
	assert.Equal(t, consent.OptedOut, consent.StatusFor(keywords.OptOut))
	assert.Equal(t, consent.OptedIn, consent.StatusFor(keywords.OptIn))
	assert.Equal(t, consent.Undefined, consent.StatusFor(keywords.None))

	assert.Equal(t, consent.OptedOut, consent.ParseStatus("opted_out"))
	assert.Equal(t, consent.OptedIn, consent.ParseStatus("opted_in"))
	assert.Equal(t, consent.Undefined, consent.ParseStatus(""))
	assert.Equal(t, consent.Undefined, consent.ParseStatus("Opted Out"), "a hand-edited value isn't a status")
}

func TestStatusOf(t *testing.T) {
	src, err := static.NewSource([]byte(`{"fields": [{"key": "optout_status", "name": "Opt-Out Status", "type": "text"}]}`))
	require.NoError(t, err)
	sa, err := engine.NewSessionAssets(envs.NewBuilder().Build(), src, nil)
	require.NoError(t, err)

	read := func(fields string) *flows.Contact {
		contact, err := flows.ReadContact(sa, []byte(`{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "name": "Ana", "status": "active",
			"created_on": "2026-01-10T12:00:00Z", "fields": `+fields+`}`), assets.PanicOnMissing)
		require.NoError(t, err)
		return contact
	}

	assert.Equal(t, consent.OptedOut, consent.StatusOf(sa, read(`{"optout_status": {"text": "opted_out"}}`)))
	assert.Equal(t, consent.OptedIn, consent.StatusOf(sa, read(`{"optout_status": {"text": "opted_in"}}`)))
	assert.Equal(t, consent.Undefined, consent.StatusOf(sa, read(`{}`)))

	// a workspace without the field has no opted-out contacts
	empty, err := engine.NewSessionAssets(envs.NewBuilder().Build(), static.NewEmptySource(), nil)
	require.NoError(t, err)
	assert.Equal(t, consent.Undefined, consent.StatusOf(empty, read(`{"optout_status": {"text": "opted_out"}}`)))
}
