package export_test

import (
	"testing"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/test"
	"github.com/optout-dev/optout/export"
	"github.com/stretchr/testify/require"
)

func TestMarshal(t *testing.T) {
	// an export as RapidPro 11.x wrote them: a legacy flow, a message event with plain text, a single keyword
	e, err := export.Read([]byte(`{
		"version": 11.4,
		"flows": [{
			"base_language": "base",
			"flow_type": "F",
			"version": "11.4",
			"entry": "2618298e-fce9-4b3f-8152-118b06cb6d2b",
			"action_sets": [{
				"uuid": "2618298e-fce9-4b3f-8152-118b06cb6d2b",
				"x": 100, "y": 0,
				"destination": null,
				"actions": [{"type": "reply", "uuid": "7b3ba21e-e83b-4dcf-ba4b-7dea06485423", "msg": {"base": "Welcome!"}}],
				"exit_uuid": "bd76d746-e0fc-43b0-a0c6-aef3015c7ba6"
			}],
			"rule_sets": [],
			"metadata": {"uuid": "6d8250f9-3781-40f5-b76c-35fe2a2c9712", "name": "Welcome", "expires": 720}
		}],
		"campaigns": [{
			"uuid": "17da8fee-8c29-4b12-a3f5-f2be042d00a5",
			"name": "Reminders",
			"group": {"uuid": "1019499d-fcee-4910-b05c-ca18ccdcbadb", "name": "Members"},
			"events": [{
				"uuid": "bc7b249c-f5f4-4b9f-9193-f4ef007b0d77",
				"offset": 1,
				"unit": "W",
				"event_type": "M",
				"delivery_hour": 9,
				"message": "Your appointment is coming up",
				"relative_to": {"label": "Appointment", "key": "appointment"}
			}]
		}],
		"triggers": [{
			"trigger_type": "K",
			"keyword": "welcome",
			"flow": {"uuid": "6d8250f9-3781-40f5-b76c-35fe2a2c9712", "name": "Welcome"},
			"groups": [],
			"channel": "bd55bb31-8ed4-4f89-b903-7103aa3762be"
		}]
	}`))
	require.NoError(t, err)

	marshaled, err := jsonx.Marshal(e)
	require.NoError(t, err)

	// as RapidPro writes exports now, with what RapidPro would create on import declared
	test.AssertEqualJSON(t, []byte(`{
		"version": "13",
		"flows": [
			{
				"uuid": "6d8250f9-3781-40f5-b76c-35fe2a2c9712",
				"name": "Welcome",
				"spec_version": "14.4.1",
				"language": "und",
				"type": "messaging",
				"revision": 0,
				"expire_after_minutes": 720,
				"localization": {},
				"nodes": [
					{
						"uuid": "2618298e-fce9-4b3f-8152-118b06cb6d2b",
						"actions": [
							{
								"type": "send_msg",
								"uuid": "7b3ba21e-e83b-4dcf-ba4b-7dea06485423",
								"text": "Welcome!"
							}
						],
						"exits": [
							{
								"uuid": "bd76d746-e0fc-43b0-a0c6-aef3015c7ba6"
							}
						]
					}
				],
				"_ui": {
					"nodes": {
						"2618298e-fce9-4b3f-8152-118b06cb6d2b": {
							"position": {
								"left": 100,
								"top": 0
							},
							"type": "execute_actions"
						}
					},
					"stickies": {}
				}
			}
		],
		"campaigns": [
			{
				"uuid": "17da8fee-8c29-4b12-a3f5-f2be042d00a5",
				"name": "Reminders",
				"group": {
					"uuid": "1019499d-fcee-4910-b05c-ca18ccdcbadb",
					"name": "Members"
				},
				"events": [
					{
						"uuid": "bc7b249c-f5f4-4b9f-9193-f4ef007b0d77",
						"offset": 1,
						"unit": "W",
						"event_type": "M",
						"delivery_hour": 9,
						"message": {
							"und": "Your appointment is coming up"
						},
						"base_language": "und",
						"relative_to": {
							"key": "appointment",
							"label": "Appointment"
						},
						"start_mode": "I"
					}
				]
			}
		],
		"triggers": [
			{
				"trigger_type": "K",
				"flow": {
					"uuid": "6d8250f9-3781-40f5-b76c-35fe2a2c9712",
					"name": "Welcome"
				},
				"keywords": [
					"welcome"
				],
				"match_type": "F",
				"groups": [],
				"channel": {
					"uuid": "bd55bb31-8ed4-4f89-b903-7103aa3762be",
					"name": ""
				}
			}
		],
		"fields": [
			{
				"key": "appointment",
				"name": "Appointment",
				"type": "datetime"
			}
		],
		"groups": [
			{
				"uuid": "1019499d-fcee-4910-b05c-ca18ccdcbadb",
				"name": "Members"
			}
		]
	}`), marshaled)
}
