package service_test

import (
	"testing"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/store"
)

func TestCampaigns(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"default_language": "eng"}`)
	e.importFile("acme", "../../shared/rapidpro-exports/survey_campaign.json")
	e.importFile("acme", "testdata/join_survey.json")

	ana, bruno, carla := "whatsapp:5511987650001", "whatsapp:5511987650002", "whatsapp:5511987650003"
	for _, urn := range []string{ana, bruno, carla} {
		r := e.message("acme", urn, "survey")
		require.Equal(t, []string{"You're in! The survey starts in two weeks."}, replies(r))
		require.Equal(t, []string{"Survey Group"}, r.Contact.Groups)
	}
	e.message("acme", bruno, "stop")

	// the event is 15 days after survey_start, at noon: nothing before that
	start := e.clock()
	due := time.Date(start.Year(), start.Month(), start.Day()+15, 12, 0, 0, 0, time.UTC)
	e.advance(due.Sub(start) - time.Hour)
	e.message("acme", ana, "oi") // which opens her window
	require.NoError(t, e.svc.FireCampaigns(e.ctx, e.clock()))
	outbox, _, err := e.svc.Outbox(e.ctx, "acme", 0, 100)
	require.NoError(t, err)
	campaign := func() []string {
		outbox, _, err = e.svc.Outbox(e.ctx, "acme", 0, 100)
		require.NoError(t, err)
		var sent []string
		for _, m := range outbox {
			if m.Source == "campaign" {
				sent = append(sent, string(m.URN)+": "+m.Text)
			}
		}
		return sent
	}
	assert.Empty(t, campaign())

	// when it's due: Ana gets the survey, Bruno opted out, Carla's window closed two weeks ago
	e.advance(2 * time.Hour)
	require.NoError(t, e.svc.FireCampaigns(e.ctx, e.clock()))
	assert.Equal(t, []string{ana + ": Hi this is a survey. Which color is best? Red, Green, or Blue?"}, campaign())
	fired := e.logged("fired campaign event")
	require.NotNil(t, fired, "one line for the event")
	assert.Equal(t, []any{"acme", 1.0, 1.0, 1.0}, []any{fired["workspace"], fired["sent"], fired["skipped_opted_out"], fired["skipped_window_closed"]})
	assert.Contains(t, fired, "elapsed_ms")

	// and the flow it started waits for Ana's answer, which completes it
	rec, err := e.store.ContactByURN(e.ctx, "acme", urns.URN(ana))
	require.NoError(t, err)
	_, err = e.store.WaitingSession(e.ctx, "acme", rec.UUID)
	require.NoError(t, err)
	r := e.message("acme", ana, "Blue")
	assert.False(t, r.Handled)
	_, err = e.store.WaitingSession(e.ctx, "acme", rec.UUID)
	assert.ErrorIs(t, err, store.ErrNotFound)

	// an event fires once per contact
	require.NoError(t, e.svc.FireCampaigns(e.ctx, e.clock()))
	assert.Len(t, campaign(), 1)

	// and not at all once it's more than a day late
	e.workspace("late", `{"default_language": "eng"}`)
	e.importFile("late", "../../shared/rapidpro-exports/survey_campaign.json")
	e.importFile("late", "testdata/join_survey.json")
	e.message("late", ana, "survey")
	e.advance(16 * 24 * time.Hour)
	e.message("late", ana, "oi")
	require.NoError(t, e.svc.FireCampaigns(e.ctx, e.clock()))
	late, _, err := e.svc.Outbox(e.ctx, "late", 0, 100)
	require.NoError(t, err)
	for _, m := range late {
		assert.NotEqual(t, "campaign", m.Source)
	}
}

// A campaign event "at noon" fires at noon where the workspace is, daylight saving time or not: 15 days after 1 March
// is after New York moves its clocks forward, on 8 March 2026.
func TestCampaignsInTheWorkspacesTimeZone(t *testing.T) {
	for _, tc := range []struct {
		timezone string
		due      time.Time // in UTC
	}{
		{"America/Sao_Paulo", time.Date(2026, 3, 16, 15, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2026, 3, 16, 16, 0, 0, 0, time.UTC)}, // EDT: UTC-4; it was UTC-5 when joining
		{"", time.Date(2026, 3, 16, 12, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.timezone, func(t *testing.T) {
			e := newEnv(t)
			e.now = time.Date(2026, 3, 1, 15, 0, 0, 0, time.UTC)
			e.workspace("acme", `{"default_language": "eng", "timezone": "`+tc.timezone+`"}`)
			e.importFile("acme", "../../shared/rapidpro-exports/survey_campaign.json")
			e.importFile("acme", "testdata/join_survey.json")
			ana := "whatsapp:5511987650001"
			e.message("acme", ana, "survey")

			e.advance(tc.due.Sub(e.clock()) - time.Minute)
			e.message("acme", ana, "oi")
			require.NoError(t, e.svc.FireCampaigns(e.ctx, e.clock()))
			assert.Empty(t, campaignSends(t, e), "a minute early")

			e.advance(time.Minute)
			require.NoError(t, e.svc.FireCampaigns(e.ctx, e.clock()))
			assert.Len(t, campaignSends(t, e), 1, "on time")
		})
	}
}

func campaignSends(t *testing.T, e *env) []string {
	outbox, _, err := e.svc.Outbox(e.ctx, "acme", 0, 100)
	require.NoError(t, err)
	var sent []string
	for _, m := range outbox {
		if m.Source == "campaign" {
			sent = append(sent, m.Text)
		}
	}
	return sent
}
