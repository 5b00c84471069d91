package graphtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/whatsapp"
	"github.com/optout-dev/optout/whatsapp/graphtest"
)

var account = graphtest.Account{WABAID: "102290129340398", PhoneNumberID: "106540352242922", DisplayPhoneNumber: "15550783881"}

var at = time.Unix(1760711433, 0).UTC()

// The notifications are compared with the syntax of Meta's webhooks reference, written out here by hand.
func TestNotificationShapes(t *testing.T) {
	const metadata = `"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"}`
	sender := graphtest.Sender{ID: "wamid.1", From: "16505551234", Name: "Sheena Nelson", At: at}
	message := func(m string) string {
		return `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{` + metadata +
			`,"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.1","timestamp":"1760711433",` + m + `}]}}]}]}`
	}

	tests := map[string]struct {
		event graphtest.Event
		want  string
	}{
		"text": {graphtest.Text{Sender: sender, Body: "STOP"}, message(`"type":"text","text":{"body":"STOP"}`)},
		"button": {graphtest.Button{Sender: sender, Text: "Stop promotions", Payload: "optout", ReplyTo: "wamid.0"},
			message(`"type":"button","button":{"text":"Stop promotions","payload":"optout"},"context":{"from":"16505551234","id":"wamid.0"}`)},
		"button_reply": {graphtest.ButtonReply{Sender: sender, ReplyID: "optout", Title: "Stop"},
			message(`"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"optout","title":"Stop"}}`)},
		"list_reply": {graphtest.ListReply{Sender: sender, ReplyID: "r", Title: "Resume", Description: "Offers again"},
			message(`"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"r","title":"Resume","description":"Offers again"}}`)},
		"other": {graphtest.Other{Sender: sender, Type: "reaction"}, message(`"type":"reaction"`)},
		"status": {graphtest.Status{ID: "wamid.2", RecipientID: "16505551234", Status: "delivered", At: at, CallbackData: "o:1"},
			`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{` + metadata + `,
			"statuses":[{"id":"wamid.2","status":"delivered","timestamp":"1760711433","recipient_id":"16505551234","biz_opaque_callback_data":"o:1",
			"conversation":{"id":"CONVERSATION_ID","origin":{"type":"marketing"}},
			"pricing":{"billable":true,"pricing_model":"PMP","category":"marketing","type":"regular"}}]}}]}]}`},
		"failed status": {withAt(graphtest.Failed("wamid.3", "16505551234", graphtest.MarketingOptOut)),
			`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{` + metadata + `,
			"statuses":[{"id":"wamid.3","status":"failed","timestamp":"1760711433","recipient_id":"16505551234","errors":[{"code":131050,
			"title":"(#131050) Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
			"message":"(#131050) Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
			"error_data":{"details":"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business."},
			"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}]}}]}]}`},
		"user_preferences": {graphtest.Preference{WAID: "16505551234", Name: "Sheena Nelson", Value: "stop", At: at},
			`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"user_preferences","value":{` + metadata + `,
			"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
			"user_preferences":[{"wa_id":"16505551234","detail":"User requested to stop marketing messages","category":"marketing_messages","value":"stop","timestamp":1760711433}]}}]}]}`},
	}
	for name, tc := range tests {
		assert.JSONEq(t, tc.want, string(account.Notification(tc.event)), name)
	}
}

func withAt(s graphtest.Status) graphtest.Status {
	s.At = at
	return s
}

func TestCategoryUpdateShapes(t *testing.T) {
	announced := graphtest.CategoryUpdate{TemplateID: 278077987957091, Name: "welcome_template", Language: "en_US",
		New: "UTILITY", Correct: "MARKETING", EffectiveAt: at}
	completed := graphtest.CategoryUpdate{TemplateID: 278077987957091, Name: "welcome_template", Language: "en_US",
		Previous: "UTILITY", New: "MARKETING"}

	var body struct {
		Entry []struct {
			ID      string            `json:"id"`
			Time    int64             `json:"time"`
			Changes []json.RawMessage `json:"changes"`
		} `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(account.Notification(announced, graphtest.Text{Body: "hi"}, completed), &body))
	require.Len(t, body.Entry, 3, "the messages' entry, then one entry per category update")
	for _, e := range body.Entry[1:] {
		assert.Equal(t, account.WABAID, e.ID)
		assert.InDelta(t, time.Now().Unix(), e.Time, 60)
	}
	assert.JSONEq(t, `{"field":"template_category_update","value":{"message_template_id":278077987957091,"message_template_name":"welcome_template",
		"message_template_language":"en_US","correct_category":"MARKETING","new_category":"UTILITY","category_update_timestamp":1760711433}}`,
		string(body.Entry[1].Changes[0]))
	assert.JSONEq(t, `{"field":"template_category_update","value":{"message_template_id":278077987957091,"message_template_name":"welcome_template",
		"message_template_language":"en_US","previous_category":"UTILITY","new_category":"MARKETING"}}`,
		string(body.Entry[2].Changes[0]))
}

// What the builders make, the parser reads back.
func TestNotificationsParse(t *testing.T) {
	body := account.Notification(
		graphtest.Text{Sender: graphtest.Sender{From: "5511987654321", Name: "Ana"}, Body: "PARAR"},
		graphtest.Button{Sender: graphtest.Sender{From: "5511987654321"}, Text: "Parar promoções", Payload: "Parar promoções"},
		graphtest.Failed("wamid.x", "5511987654321", graphtest.MarketingLimit),
		graphtest.Preference{WAID: "5511987654321", Value: "resume"},
		graphtest.CategoryUpdate{TemplateID: 7, Name: "t", Language: "pt_BR", New: "MARKETING", Correct: "UTILITY", EffectiveAt: at},
	)
	n, err := whatsapp.ParseNotification(body)
	require.NoError(t, err)

	require.Len(t, n.Messages, 2)
	assert.Equal(t, whatsapp.KindText, n.Messages[0].Kind)
	assert.Equal(t, "PARAR", n.Messages[0].Text)
	assert.Equal(t, "Ana", n.Messages[0].Name)
	assert.Regexp(t, `^wamid\.`, n.Messages[0].ID)
	assert.NotEqual(t, n.Messages[0].ID, n.Messages[1].ID, "each message has an ID of its own")
	assert.WithinDuration(t, time.Now(), n.Messages[0].Timestamp, time.Minute)
	assert.Equal(t, whatsapp.KindButton, n.Messages[1].Kind)
	assert.Equal(t, "Parar promoções", n.Messages[1].Payload)

	require.Len(t, n.Statuses, 1)
	assert.True(t, n.Statuses[0].Code().MarketingLimit())
	require.Len(t, n.Preferences, 1)
	assert.Equal(t, whatsapp.PreferenceResume, n.Preferences[0].Value)
	require.Len(t, n.CategoryUpdates, 1)
	assert.Equal(t, "UTILITY", n.CategoryUpdates[0].Category())
	assert.Equal(t, at, n.CategoryUpdates[0].EffectiveAt)
	assert.Equal(t, account.PhoneNumberID, n.Messages[0].PhoneNumberID)
	assert.Equal(t, account.WABAID, n.CategoryUpdates[0].WABAID)
}

func TestRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r, must(io.ReadAll(r.Body))
	}))
	defer receiver.Close()

	req, err := account.Request(context.Background(), receiver.URL+"/v1/workspaces/acme/whatsapp", "app-secret",
		graphtest.Preference{WAID: "16505551234", Value: "stop"})
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "/v1/workspaces/acme/whatsapp", got.URL.Path)
	assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
	assert.True(t, whatsapp.VerifySignature(body, got.Header.Get("X-Hub-Signature-256"), "app-secret"))
	assert.False(t, whatsapp.VerifySignature(body, got.Header.Get("X-Hub-Signature-256"), "other"))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// post sends body to the server's messages endpoint the way a client of the Cloud API does.
func post(t *testing.T, s *graphtest.Server, path, token, body string) (int, map[string]any) {
	req, err := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var answer map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
	return resp.StatusCode, answer
}

func TestServerChecksRequests(t *testing.T) {
	s := graphtest.New(t)
	s.AddPhone("1", "tok")
	s.AddPhone("3", "tok3")
	const text = `{"messaging_product":"whatsapp","to":"5511987654321","type":"text","text":{"body":"hi"}}`

	status, answer := post(t, s, "/v25.0/1/messages", "tok", text)
	assert.Equal(t, http.StatusOK, status)
	wamid := s.Requests()[0].WAMID
	assert.Equal(t, map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []any{map[string]any{"input": "5511987654321", "wa_id": "5511987654321"}},
		"messages":          []any{map[string]any{"id": wamid}},
	}, answer)

	tests := []struct {
		path, token, body string
		status            int
		code              float64
		details           string
	}{
		{"/v25.0/1/messages", "", text, 401, 190, ""},
		{"/v25.0/1/messages", "other", text, 401, 190, ""},
		{"/v25.0/2/messages", "tok", text, 400, 100, ""},
		{"/v25.0/1/messages", "tok3", text, 400, 100, ""}, // another phone number's token
		{"/1/messages", "tok", text, 400, 100, ""},
		{"/v25.0/1/messages", "tok", `hi`, 400, 100, "The request body is not valid JSON"},
		{"/v25.0/1/messages", "tok", `{"to":"1","type":"text","text":{"body":"hi"}}`, 400, 100, "The parameter messaging_product is required."},
		{"/v25.0/1/messages", "tok", `{"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}`, 400, 100, "The parameter to is required."},
		{"/v25.0/1/messages", "tok", `{"messaging_product":"whatsapp","recipient_type":"group","to":"1","type":"text","text":{"body":"hi"}}`, 400, 100, "recipient_type must be individual"},
		{"/v25.0/1/messages", "tok", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{}}`, 400, 100, "The parameter text['body'] is required."},
		{"/v25.0/1/messages", "tok", `{"messaging_product":"whatsapp","to":"1","type":"template","template":{"language":{"code":"en"}}}`, 400, 100, "The parameter template['name'] is required."},
		{"/v25.0/1/messages", "tok", `{"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"t"}}`, 400, 100, "The parameter template['language']['code'] is required."},
		{"/v25.0/1/messages", "tok", `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"id":"1"}}`, 400, 100, `graphtest only takes text and template messages, not "image"`},
	}
	for _, tc := range tests {
		status, answer := post(t, s, tc.path, tc.token, tc.body)
		assert.Equal(t, tc.status, status, "%s %s", tc.path, tc.body)
		e := answer["error"].(map[string]any)
		assert.Equal(t, tc.code, e["code"], "%s %s", tc.path, tc.body)
		if tc.details != "" {
			assert.Equal(t, tc.details, e["error_data"].(map[string]any)["details"])
		}
	}
	assert.Len(t, s.Requests(), len(tests)+1)
	assert.Len(t, s.Accepted(), 1)
}

func TestServerFailures(t *testing.T) {
	s := graphtest.New(t)
	s.AddPhone("1", "tok")
	s.Fail(graphtest.To("5511000000001"), 0, graphtest.MarketingOptOut) // always
	s.Fail(graphtest.EveryNth(3), 2, graphtest.Throughput)              // the 3rd and 6th requests only
	send := func(to string) (int, float64) {
		status, answer := post(t, s, "/v25.0/1/messages", "tok", `{"messaging_product":"whatsapp","to":"`+to+`","type":"text","text":{"body":"hi"}}`)
		if e, ok := answer["error"].(map[string]any); ok {
			return status, e["code"].(float64)
		}
		return status, 0
	}

	var got [][2]float64
	for _, to := range []string{"5511000000002", "5511000000001", "5511000000002", "5511000000002", "5511000000001", "5511000000002", "5511000000002", "5511000000002", "5511000000002"} {
		status, code := send(to)
		got = append(got, [2]float64{float64(status), code})
	}
	assert.Equal(t, [][2]float64{
		{200, 0}, {400, 131050}, {429, 130429}, {200, 0}, {400, 131050}, {429, 130429}, {200, 0}, {200, 0}, {200, 0},
	}, got, "the 9th request would be a third match of a rule for two")

	reqs := s.Requests()
	assert.Equal(t, 131050, reqs[1].Failure.Code)
	assert.False(t, reqs[1].Accepted())
	assert.True(t, reqs[0].Accepted())
	assert.Len(t, s.Accepted(), 5)
}

func TestRate(t *testing.T) {
	start := time.Now()
	reqs := []*graphtest.Request{{At: start}, {At: start.Add(100 * time.Millisecond)}, {At: start.Add(200 * time.Millisecond)}}
	assert.InDelta(t, 10.0, graphtest.Rate(reqs), 1e-9)
	assert.Zero(t, graphtest.Rate(reqs[:1]))
}
