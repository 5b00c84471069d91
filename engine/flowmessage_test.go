package engine_test

import (
	"os"
	"testing"

	"github.com/nyaruka/goflow/assets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/internal/flowtest"
)

func TestFlowMessage(t *testing.T) {
	tests := []struct {
		export   string
		flow     assets.FlowUUID
		origin   engine.Origin
		expected engine.Message
	}{
		{"whatsapp_template.json", "c07d368e-fe1d-469d-b267-bca02d17c3e3", engine.OriginCampaign, engine.Message{Origin: engine.OriginCampaign, Template: "affirmation"}},
		{"send_only_v13.json", "1a737778-2cef-4e2f-830e-33a9d3921741", engine.OriginCampaign, engine.Message{Origin: engine.OriginCampaign}},
		{"favorites_v13.json", "aef60b1e-14ab-4095-81ee-fce02b3e320d", engine.OriginBroadcast, engine.Message{Origin: engine.OriginBroadcast}},
	}
	for _, tc := range tests {
		data, err := os.ReadFile("../../shared/rapidpro-exports/" + tc.export)
		require.NoError(t, err)
		flow, err := flowtest.SessionAssets(t, nil, data).Flows().Get(tc.flow)
		require.NoError(t, err, tc.export)

		assert.Equal(t, tc.expected, engine.FlowMessage(flow, tc.origin), tc.export)
	}
}
