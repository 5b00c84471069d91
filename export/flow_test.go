package export_test

import (
	"testing"

	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/actions"
	"github.com/optout-dev/optout/export"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadValidatesRegisteredTypes(t *testing.T) {
	flow := []byte(`{
		"uuid": "8ca44c09-791d-453a-9799-a70dd3303306",
		"name": "Opt Out",
		"spec_version": "14.4.1",
		"language": "eng",
		"type": "messaging",
		"nodes": [{
			"uuid": "a0434c54-3e26-4eb0-bafc-46cdeaf435a0",
			"actions": [{"uuid": "e97cd6d5-3354-4dbd-85bc-6c1f87849ee0", "type": "test_opt_out", "text": "Bye"}],
			"exits": [{"uuid": "2b4f5a3c-1f0a-4c8e-9b8f-3f9e1c0d1a20"}]
		}]
	}`)

	_, err := export.Read(flow)
	assert.EqualError(t, err, "nodes[0]: unable to read action[0]: unknown type: 'test_opt_out'")

	// hosts register their action types with goflow, here one that reads like send_msg
	actions.RegisteredTypes()["test_opt_out"] = func() flows.Action { return &actions.SendMsg{} }
	defer delete(actions.RegisteredTypes(), "test_opt_out")

	e, err := export.Read(flow)
	require.NoError(t, err)
	assert.Contains(t, string(e.Flows[0].Definition), `"type":"test_opt_out"`)

	_, err = export.Read([]byte(`{
		"uuid": "8ca44c09-791d-453a-9799-a70dd3303306",
		"name": "Opt Out",
		"spec_version": "14.4.1",
		"language": "eng",
		"type": "messaging",
		"nodes": [{
			"uuid": "a0434c54-3e26-4eb0-bafc-46cdeaf435a0",
			"actions": [{"uuid": "e97cd6d5-3354-4dbd-85bc-6c1f87849ee0", "type": "test_opt_out"}],
			"exits": [{"uuid": "2b4f5a3c-1f0a-4c8e-9b8f-3f9e1c0d1a20"}]
		}]
	}`))
	assert.EqualError(t, err, "nodes[0]: unable to read action[0]: field 'text' is required")
}
