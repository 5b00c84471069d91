package engine_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/fixtures"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	recent := now.Add(-2 * time.Hour)
	stale := now.Add(-25 * time.Hour)

	onlyMarketing, err := config.Parse([]byte(`{"allowed_categories": ["marketing"]}`))
	require.NoError(t, err)
	none, err := config.Parse([]byte(`{"allowed_categories": []}`))
	require.NoError(t, err)

	send := engine.Decision{Send: true}
	optedOut := engine.Decision{Reason: engine.ReasonOptedOut}
	windowClosed := engine.Decision{Reason: engine.ReasonWindowClosed}

	tests := []struct {
		description string
		cfg         *config.Config
		status      consent.Status
		lastInbound time.Time
		msg         engine.Message
		expected    engine.Decision
	}{
		{"marketing template to opted-out contact", config.Default, consent.OptedOut, recent, engine.Message{Origin: engine.OriginBroadcast, Template: "promo", Category: "MARKETING"}, optedOut},
		{"customer service template to opted-out contact", config.Default, consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "ticket", Category: "CUST_SERVICE"}, send},
		{"OTP template to opted-out contact", config.Default, consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "code", Category: "OTP"}, send},
		{"Meta's UTILITY counts as customer service", config.Default, consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "order", Category: "UTILITY"}, send},
		{"Meta's AUTHENTICATION counts as OTP", config.Default, consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "code", Category: "authentication"}, send},
		{"unknown category fails closed", config.Default, consent.OptedOut, recent, engine.Message{Origin: engine.OriginBroadcast, Template: "x", Category: "PROMOTIONAL"}, optedOut},
		{"missing category and no templates entry fails closed", config.Default, consent.OptedOut, recent, engine.Message{Origin: engine.OriginBroadcast, Template: "x"}, optedOut},
		{"missing category is taken from the templates map", fixtures.Config(), consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "login_code"}, send},
		{"templates map says marketing", fixtures.Config(), consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "black_friday"}, optedOut},
		{"a category given with the message wins over the templates map", fixtures.Config(), consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "black_friday", Category: "OTP"}, send},
		{"marketing template to opted-in contact outside the window", config.Default, consent.OptedIn, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "promo", Category: "MARKETING"}, send},
		{"marketing template to undefined contact never seen", config.Default, consent.Undefined, time.Time{}, engine.Message{Origin: engine.OriginBroadcast, Template: "promo", Category: "MARKETING"}, send},
		{"unknown category to opted-in contact is sent: the category only matters for opted-out contacts", config.Default, consent.OptedIn, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "x", Category: "??"}, send},
		{"a workspace may allow only marketing", onlyMarketing, consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "promo", Category: "MARKETING"}, send},
		{"... and then OTP is blocked", onlyMarketing, consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "code", Category: "OTP"}, optedOut},
		{"a workspace may allow nothing", none, consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast, Template: "code", Category: "OTP"}, optedOut},
		// free text answering the contact: the window decides, opted out or not (reference document 000)
		{"reply inside the window", config.Default, consent.OptedIn, recent, engine.Message{Origin: engine.OriginReply}, send},
		{"reply to an opted-out contact inside the window", config.Default, consent.OptedOut, recent, engine.Message{Origin: engine.OriginReply}, send},
		{"reply after 25 hours of silence", config.Default, consent.OptedIn, stale, engine.Message{Origin: engine.OriginReply}, windowClosed},
		{"reply to an opted-out contact after 25 hours", config.Default, consent.OptedOut, stale, engine.Message{Origin: engine.OriginReply}, windowClosed},
		{"reply exactly 24 hours after", config.Default, consent.OptedIn, now.Add(-24 * time.Hour), engine.Message{Origin: engine.OriginReply}, windowClosed},
		{"reply a second before 24 hours", config.Default, consent.OptedIn, now.Add(-24*time.Hour + time.Second), engine.Message{Origin: engine.OriginReply}, send},
		{"reply to a contact who never wrote", config.Default, consent.Undefined, time.Time{}, engine.Message{Origin: engine.OriginReply}, windowClosed},
		{"a template reply of a blocked category", config.Default, consent.OptedOut, recent, engine.Message{Origin: engine.OriginReply, Template: "promo", Category: "MARKETING"}, optedOut},

		// free text written first by the business: never to an opted-out contact, even the one who just said PARAR
		{"broadcast text inside the window", config.Default, consent.OptedIn, recent, engine.Message{Origin: engine.OriginBroadcast}, send},
		{"broadcast text to an opted-out contact inside the window", config.Default, consent.OptedOut, recent, engine.Message{Origin: engine.OriginBroadcast}, optedOut},
		{"broadcast text to an opted-out contact outside it", config.Default, consent.OptedOut, stale, engine.Message{Origin: engine.OriginBroadcast}, optedOut},
		{"broadcast text to an undefined contact outside the window", config.Default, consent.Undefined, stale, engine.Message{Origin: engine.OriginBroadcast}, windowClosed},
		{"campaign text to an opted-out contact inside the window", config.Default, consent.OptedOut, recent, engine.Message{Origin: engine.OriginCampaign}, optedOut},
		{"campaign text to an opted-in contact inside the window", config.Default, consent.OptedIn, recent, engine.Message{Origin: engine.OriginCampaign}, send},
		{"campaign text to an opted-in contact outside it", config.Default, consent.OptedIn, stale, engine.Message{Origin: engine.OriginCampaign}, windowClosed},
		{"an allowed campaign template to an opted-out contact", fixtures.Config(), consent.OptedOut, stale, engine.Message{Origin: engine.OriginCampaign, Template: "login_code"}, send},
		{"a marketing campaign template to an opted-out contact", fixtures.Config(), consent.OptedOut, stale, engine.Message{Origin: engine.OriginCampaign, Template: "black_friday"}, optedOut},
		{"no origin counts as the business writing first", config.Default, consent.OptedOut, recent, engine.Message{}, optedOut},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.expected, engine.Decide(tc.cfg, tc.status, tc.lastInbound, now, tc.msg), tc.description)
	}
}
