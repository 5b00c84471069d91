package whatsapp_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/whatsapp"
)

// The fixtures in testdata are shaped like the examples of Meta's webhooks reference (messages, status, errors,
// user_preferences and template_category_update pages) and like the real payloads in courier's
// handlers/meta/testdata/wac (hello.json, button.json, button_reply.json, list_reply.json, error_status.json,
// error_msg.json, hello_from_bsuid.json), with values of our own.

const (
	waba  = "102290129340398"
	phone = "106540352242922"
)

func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func TestParseNotificationFixtures(t *testing.T) {
	tests := map[string]*whatsapp.Notification{
		"text.json": {Messages: []*whatsapp.Message{{
			WABAID: waba, PhoneNumberID: phone,
			ID:   "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDNBMEY1QTk0QkM2RkQ5QzA4RjI3AA==",
			From: "5511987654321", Name: "Ana Souza", Timestamp: unix(1760711433),
			Type: "text", Kind: whatsapp.KindText, Text: "PARAR",
		}}},
		"button.json": {Messages: []*whatsapp.Message{{
			WABAID: waba, PhoneNumberID: phone,
			ID:   "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFjNFQjBDMzE5NUE4MjQyOTBGRjg5AA==",
			From: "5215512345678", Name: "Lucía Fernández", Timestamp: unix(1760711501),
			Type: "button", Kind: whatsapp.KindButton, Text: "Detener promociones", Payload: "Detener promociones",
			ReplyTo: "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABEYEkQ2QzY5N0M4RTRBRkU3QjU1AA==",
		}}},
		"button_reply.json": {Messages: []*whatsapp.Message{{
			WABAID: waba, PhoneNumberID: phone,
			ID:   "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRCNUI2MDk4QzQ2QzM5RDE2OQA=",
			From: "16505551234", Name: "Sheena Nelson", Timestamp: unix(1760711600),
			Type: "interactive", Kind: whatsapp.KindButtonReply, Text: "Stop messages", Payload: "optout",
			ReplyTo: "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
		}}},
		"list_reply.json": {Messages: []*whatsapp.Message{{
			WABAID: waba, PhoneNumberID: phone,
			ID:   "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUQ5RjJCQjA3NjI5MUIzMjVGRAA=",
			From: "16505551234", Name: "Sheena Nelson", Timestamp: unix(1760711700),
			Type: "interactive", Kind: whatsapp.KindListReply, Text: "Resume offers", Payload: "prefs-resume",
			Description: "Get our weekly promotions again",
		}}},
		"status_sent.json": {Statuses: []*whatsapp.Status{{
			WABAID: waba, PhoneNumberID: phone,
			ID:     "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
			Status: whatsapp.StatusSent, Timestamp: unix(1760711433), RecipientID: "16505551234", CallbackData: "outbox:8f1c2d",
			Conversation: &whatsapp.Conversation{ID: "6ceb9d929c1a7fa8a9b6a6bd9f1c2d3e", OriginType: "marketing", ExpiresAt: unix(1760797833)},
			Pricing:      &whatsapp.Pricing{Billable: true, Model: "PMP", Category: "marketing", Type: "regular"},
		}}},
		"status_failed.json": {Statuses: []*whatsapp.Status{
			{
				WABAID: waba, PhoneNumberID: phone,
				ID:     "wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjRBMkY3QzlEMUUzQjVBNjg5MAA=",
				Status: whatsapp.StatusFailed, Timestamp: unix(1760711440), RecipientID: "5511987654321",
				Errors: []*whatsapp.WebhookError{{
					Code:    131050,
					Title:   "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
					Message: "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
					Details: "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
					Href:    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
				}},
			},
			{
				WABAID: waba, PhoneNumberID: phone,
				ID:     "wamid.HBgNNTUxMTk4NzY1NDMyMhUCABEYEkU3QjI5RjAxQzRBODNENTZBMgA=",
				Status: whatsapp.StatusFailed, Timestamp: unix(1760711441), RecipientID: "5511987654322",
				Errors: []*whatsapp.WebhookError{{
					Code: 131047, Title: "Re-engagement message", Message: "Re-engagement message",
					Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
					Href:    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
				}},
			},
		}},
		"user_preferences.json": {Preferences: []*whatsapp.Preference{{
			WABAID: waba, PhoneNumberID: phone,
			WAID: "16505551234", Name: "Sheena Nelson", Category: whatsapp.PreferenceMarketing, Value: whatsapp.PreferenceStop,
			Detail: "User requested to stop marketing messages", Timestamp: unix(1731705721),
		}}},
		"template_category_update.json": {CategoryUpdates: []*whatsapp.CategoryUpdate{
			{
				WABAID: waba, Time: unix(1760625033),
				TemplateID: "278077987957091", TemplateName: "welcome_template", Language: "en_US",
				NewCategory: "UTILITY", CorrectCategory: "MARKETING", EffectiveAt: unix(1760711433),
			},
			{
				WABAID: waba, Time: unix(1760711440),
				TemplateID: "278077987957091", TemplateName: "welcome_template", Language: "en_US",
				PreviousCategory: "UTILITY", NewCategory: "MARKETING",
			},
		}},
		"mixed.json": {
			Messages: []*whatsapp.Message{
				{
					WABAID: waba, PhoneNumberID: phone,
					ID:         "wamid.HBgLMTY1MDU1NTEyMzUVAgASGBQzQUY1RTlCQzhBNkY3NjZGQTI0QwA=",
					FromUserID: "US.13491208655302741918", Name: "Kerry Fisher", Timestamp: unix(1760711801),
					Type: "image", Kind: whatsapp.KindUnsupported,
				},
				{
					WABAID: waba, PhoneNumberID: phone,
					ID:   "wamid.HBgLMTY1MDU1NTEyMzUVAgASGBQzQUI2MkQ4NzM0QzVFRjE3NTIxMgA=",
					From: "16505551235", Timestamp: unix(1760711802), Type: "unsupported", Kind: whatsapp.KindUnsupported,
					Errors: []*whatsapp.WebhookError{{
						Code: 131051, Title: "Message type unknown", Message: "Message type unknown",
						Details: "Message type is currently not supported.",
					}},
				},
			},
			Errors: []*whatsapp.SystemError{{WABAID: waba, PhoneNumberID: phone, WebhookError: &whatsapp.WebhookError{
				Code: 130429, Title: "Rate limit hit", Message: "(#130429) Rate limit hit",
				Details: "Cloud API message throughput has been reached.",
				Href:    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
			}}},
			Ignored: map[string]int{"account_update": 1, "message_template_status_update": 1},
		},
	}

	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.Len(t, files, len(tests), "every fixture has its expected notification")

	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want, ok := tests[filepath.Base(file)]
			require.True(t, ok, "no expected notification for %s", file)
			if want.Ignored == nil {
				want.Ignored = map[string]int{}
			}
			body, err := os.ReadFile(file)
			require.NoError(t, err)
			got, err := whatsapp.ParseNotification(body)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

func TestStatusCodeAndCategoryUpdate(t *testing.T) {
	body, err := os.ReadFile("testdata/status_failed.json")
	require.NoError(t, err)
	n, err := whatsapp.ParseNotification(body)
	require.NoError(t, err)
	assert.True(t, n.Statuses[0].Code().MarketingOptOut())
	assert.True(t, n.Statuses[1].Code().WindowClosed())
	assert.Equal(t, whatsapp.NoCode, (&whatsapp.Status{}).Code())

	announced := &whatsapp.CategoryUpdate{NewCategory: "UTILITY", CorrectCategory: "MARKETING"}
	completed := &whatsapp.CategoryUpdate{PreviousCategory: "UTILITY", NewCategory: "MARKETING"}
	assert.True(t, announced.Announced())
	assert.False(t, completed.Announced())
	assert.Equal(t, "MARKETING", announced.Category(), "the category it will have, not the current one")
	assert.Equal(t, "MARKETING", completed.Category())
}

func TestParseNotificationTimestamps(t *testing.T) {
	parse := func(ts string) (*whatsapp.Notification, error) {
		return whatsapp.ParseNotification([]byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
			"metadata":{"phone_number_id":"2"},"messages":[{"id":"m","from":"3","type":"text","text":{"body":"hi"},"timestamp":` + ts + `}]}}]}]}`))
	}
	for ts, want := range map[string]time.Time{
		`"1760711433"`:    unix(1760711433),
		`1760711433`:      unix(1760711433),
		`"1760711433123"`: time.UnixMilli(1760711433123).UTC(), // milliseconds, which Meta has been seen to send
	} {
		n, err := parse(ts)
		require.NoError(t, err, ts)
		assert.Equal(t, want, n.Messages[0].Timestamp, ts)
	}
	for ts, want := range map[string]string{
		`"asdf"`: `entry[0].changes[0].value.messages[0].timestamp: "asdf" is not a unix time`,
		`""`:     `entry[0].changes[0].value.messages[0].timestamp: "" is not a unix time`,
		`-5`:     `entry[0].changes[0].value.messages[0].timestamp: -5 is not a unix time`,
		`null`:   `entry[0].changes[0].value.messages[0].timestamp: missing`,
		`{}`:     `entry[0].changes[0].value.messages[0].timestamp: {} is not a unix time`,
	} {
		_, err := parse(ts)
		assert.EqualError(t, err, want, ts)
	}
}

func TestParseNotificationErrors(t *testing.T) {
	// a change of the messages field around one message, status or error
	msg := func(m string) string {
		return `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},"messages":[` + m + `]}}]}]}`
	}
	status := func(s string) string {
		return `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},"statuses":[` + s + `]}}]}]}`
	}
	pref := func(p string) string {
		return `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"user_preferences","value":{"metadata":{"phone_number_id":"2"},"user_preferences":[` + p + `]}}]}]}`
	}
	category := func(v string) string {
		return `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"template_category_update","value":` + v + `}]}]}`
	}

	tests := []struct{ body, err string }{
		{``, `malformed JSON: unexpected end of JSON input`},
		{`{"object":`, `malformed JSON: unexpected end of JSON input`},
		{`[]`, `(top level): must be an object, not array`},
		{`{"object":"page","entry":[]}`, `object: must be "whatsapp_business_account", not "page"`},
		{`{"object":"whatsapp_business_account","entry":[{"changes":[]}]}`, `entry[0].id: missing`},
		{`{"object":"whatsapp_business_account","entry":[{"id":"1","time":"x","changes":[]}]}`, `entry[0].time: "x" is not a unix time`},
		{`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{}}]}]}`, `entry[0].changes[0].field: missing`},
		{`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[]}}]}]}`,
			`entry[0].changes[0].value.metadata.phone_number_id: missing`},
		{`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"2"},"messages":{}}}]}]}`,
			`entry[0].changes[0].value: messages: must be a list, not object`},

		{msg(`{"from":"3","type":"text","text":{"body":"hi"},"timestamp":"1"}`), `entry[0].changes[0].value.messages[0].id: missing`},
		{msg(`{"id":"m","type":"text","text":{"body":"hi"},"timestamp":"1"}`), `entry[0].changes[0].value.messages[0].from: missing`},
		{msg(`{"id":"m","from":"3","text":{"body":"hi"},"timestamp":"1"}`), `entry[0].changes[0].value.messages[0].type: missing`},
		{msg(`{"id":"m","from":"3","type":"text","text":{"body":"hi"}}`), `entry[0].changes[0].value.messages[0].timestamp: missing`},
		{msg(`{"id":"m","from":"3","type":"text","timestamp":"1"}`), `entry[0].changes[0].value.messages[0].text: missing`},
		{msg(`{"id":"m","from":"3","type":"text","text":"hi","timestamp":"1"}`), `entry[0].changes[0].value: messages.text: must be an object, not string`},
		{msg(`{"id":"m","from":"3","type":"button","timestamp":"1"}`), `entry[0].changes[0].value.messages[0].button: missing`},
		{msg(`{"id":"m","from":"3","type":"interactive","timestamp":"1"}`), `entry[0].changes[0].value.messages[0].interactive: missing`},
		{msg(`{"id":"m","from":"3","type":"interactive","interactive":{"type":"button_reply"},"timestamp":"1"}`),
			`entry[0].changes[0].value.messages[0].interactive.button_reply: missing`},
		{msg(`{"id":"m","from":"3","type":"interactive","interactive":{"type":"list_reply"},"timestamp":"1"}`),
			`entry[0].changes[0].value.messages[0].interactive.list_reply: missing`},
		{msg(`{"id":"m","from":"3","type":"text","text":{"body":"hi"},"timestamp":"1"},{"id":"n","from":"3","type":"text","text":{"body":"hi"},"timestamp":"1","errors":[{"title":"x"}]}`),
			`entry[0].changes[0].value.messages[1].errors[0].code: missing`},

		{status(`{"status":"sent","timestamp":"1"}`), `entry[0].changes[0].value.statuses[0].id: missing`},
		{status(`{"id":"w","timestamp":"1"}`), `entry[0].changes[0].value.statuses[0].status: missing`},
		{status(`{"id":"w","status":"sent"}`), `entry[0].changes[0].value.statuses[0].timestamp: missing`},
		{status(`{"id":"w","status":"sent","timestamp":"1","conversation":{"id":"c","expiration_timestamp":"soon"}}`),
			`entry[0].changes[0].value.statuses[0].conversation.expiration_timestamp: "soon" is not a unix time`},
		{status(`{"id":"w","status":"failed","timestamp":"1","errors":[{"title":"no code"}]}`),
			`entry[0].changes[0].value.statuses[0].errors[0].code: missing`},
		{status(`{"id":"w","status":"failed","timestamp":"1","errors":[{"code":"131050"}]}`),
			`entry[0].changes[0].value: statuses.errors.code: must be an integer, not string`},

		{pref(`{"category":"marketing_messages","value":"stop","timestamp":1}`), `entry[0].changes[0].value.user_preferences[0].wa_id: missing`},
		{pref(`{"wa_id":"3","value":"stop","timestamp":1}`), `entry[0].changes[0].value.user_preferences[0].category: missing`},
		{pref(`{"wa_id":"3","category":"marketing_messages","timestamp":1}`), `entry[0].changes[0].value.user_preferences[0].value: missing`},
		{pref(`{"wa_id":"3","category":"marketing_messages","value":"stop"}`), `entry[0].changes[0].value.user_preferences[0].timestamp: missing`},

		{category(`{"message_template_name":"t","message_template_language":"en_US","new_category":"MARKETING"}`),
			`entry[0].changes[0].value.message_template_id: missing`},
		{category(`{"message_template_id":1,"message_template_language":"en_US","new_category":"MARKETING"}`),
			`entry[0].changes[0].value.message_template_name: missing`},
		{category(`{"message_template_id":1,"message_template_name":"t","new_category":"MARKETING"}`),
			`entry[0].changes[0].value.message_template_language: missing`},
		{category(`{"message_template_id":1,"message_template_name":"t","message_template_language":"en_US"}`),
			`entry[0].changes[0].value.new_category: missing`},
		{category(`{"message_template_id":1,"message_template_name":"t","message_template_language":"en_US","new_category":"UTILITY","correct_category":"MARKETING"}`),
			`entry[0].changes[0].value.category_update_timestamp: missing`},
		{category(`{"message_template_id":true,"message_template_name":"t","message_template_language":"en_US","new_category":"UTILITY"}`),
			`entry[0].changes[0].value: message_template_id: must be a number, not bool`},
	}
	for _, tc := range tests {
		_, err := whatsapp.ParseNotification([]byte(tc.body))
		assert.EqualError(t, err, tc.err, "body %s", tc.body)
	}
}

func TestParseNotificationTolerance(t *testing.T) {
	// properties Meta may add are ignored, as is an interactive reply of a kind the service doesn't read, and the
	// name of a contact Meta didn't describe is empty
	n, err := whatsapp.ParseNotification([]byte(`{"object":"whatsapp_business_account","novelty":1,"entry":[{"id":"1","changes":[
		{"field":"messages","value":{"metadata":{"phone_number_id":"2","novelty":true},"contacts":[{"wa_id":"9","profile":{"name":"Other"}}],
		"messages":[{"id":"m","from":"3","type":"interactive","timestamp":"1","interactive":{"type":"nfm_reply","nfm_reply":{"body":"Sent"}}}]}}]}]}`))
	require.NoError(t, err)
	require.Len(t, n.Messages, 1)
	assert.Equal(t, whatsapp.KindUnsupported, n.Messages[0].Kind)
	assert.Equal(t, "interactive", n.Messages[0].Type)
	assert.Empty(t, n.Messages[0].Text)
	assert.Empty(t, n.Messages[0].Name, "the only contact is another user")
	assert.Empty(t, n.Ignored)
}
