package whatsapp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/whatsapp"
	"github.com/optout-dev/optout/whatsapp/graphtest"
)

const (
	phoneID = "106540352242922"
	token   = "EAAG-test-token-never-logged"
)

func newGraph(t *testing.T, opts ...whatsapp.Option) (*graphtest.Server, *whatsapp.Client) {
	graph := graphtest.New(t)
	graph.AddPhone(phoneID, token)
	client, err := whatsapp.New(graph.URL, opts...)
	require.NoError(t, err)
	return graph, client
}

func TestNew(t *testing.T) {
	for _, base := range []string{"", "graph.facebook.com", "ftp://graph.facebook.com", "http://", "://x"} {
		_, err := whatsapp.New(base)
		assert.Error(t, err, base)
	}
	_, err := whatsapp.New(whatsapp.DefaultBaseURL)
	assert.NoError(t, err)
}

func TestSendText(t *testing.T) {
	graph, client := newGraph(t)

	sent, err := client.Send(context.Background(), phoneID, token, &whatsapp.OutgoingMessage{
		To: "+5511987654321", Text: &whatsapp.Text{Body: "Você não receberá mais mensagens. Envie VOLTAR para retornar."},
		CallbackData: "outbox:42",
	})
	require.NoError(t, err)

	reqs := graph.Requests()
	require.Len(t, reqs, 1)
	req := reqs[0]
	assert.Equal(t, whatsapp.APIVersion, req.Version)
	assert.Equal(t, phoneID, req.PhoneNumberID)
	assert.Equal(t, token, req.Token)
	assert.JSONEq(t, `{
		"messaging_product": "whatsapp",
		"recipient_type": "individual",
		"to": "+5511987654321",
		"type": "text",
		"text": {"body": "Você não receberá mais mensagens. Envie VOLTAR para retornar.", "preview_url": false},
		"biz_opaque_callback_data": "outbox:42"
	}`, string(req.Body))

	assert.Equal(t, &whatsapp.Sent{ID: req.WAMID, WAID: "5511987654321"}, sent)
	assert.Regexp(t, `^wamid\.`, sent.ID)
}

func TestSendTemplate(t *testing.T) {
	graph, client := newGraph(t, whatsapp.WithVersion("v24.0"))
	graph.SetWAID("5511987654321", "551187654321") // the account has no ninth digit

	sent, err := client.Send(context.Background(), phoneID, token, &whatsapp.OutgoingMessage{
		To: "5511987654321",
		Template: &whatsapp.Template{
			Name:     "promo_semana",
			Language: whatsapp.Language{Code: "pt_BR"},
			Components: []whatsapp.Component{
				{Type: "header", Parameters: []whatsapp.Parameter{{Type: "image", Image: &whatsapp.Media{Link: "https://example.com/promo.jpg"}}}},
				{Type: "body", Parameters: []whatsapp.Parameter{{Type: "text", ParameterName: "nome", Text: "Ana"}}},
				{Type: "button", SubType: "quick_reply", Index: "0", Parameters: []whatsapp.Parameter{{Type: "payload", Payload: "optout"}}},
			},
		},
	})
	require.NoError(t, err)

	req := graph.Requests()[0]
	assert.Equal(t, "v24.0", req.Version)
	assert.JSONEq(t, `{
		"messaging_product": "whatsapp",
		"recipient_type": "individual",
		"to": "5511987654321",
		"type": "template",
		"template": {
			"name": "promo_semana",
			"language": {"code": "pt_BR"},
			"components": [
				{"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/promo.jpg"}}]},
				{"type": "body", "parameters": [{"type": "text", "parameter_name": "nome", "text": "Ana"}]},
				{"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "optout"}]}
			]
		}
	}`, string(req.Body))
	assert.Equal(t, &whatsapp.Sent{ID: req.WAMID, WAID: "551187654321", Status: "accepted"}, sent)
}

func TestSendToUserID(t *testing.T) {
	graph, client := newGraph(t)
	sent, err := client.Send(context.Background(), phoneID, token, &whatsapp.OutgoingMessage{
		Recipient: "US.13491208655302741918", Text: &whatsapp.Text{Body: "hi", PreviewURL: true},
	})
	require.NoError(t, err)
	req := graph.Requests()[0]
	assert.JSONEq(t, `{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"US.13491208655302741918",
		"type":"text","text":{"body":"hi","preview_url":true}}`, string(req.Body))
	assert.Equal(t, &whatsapp.Sent{ID: req.WAMID, UserID: "US.13491208655302741918"}, sent)
}

func TestSendRefusesIncompleteMessages(t *testing.T) {
	graph, client := newGraph(t)
	text := &whatsapp.Text{Body: "hi"}
	tests := []struct {
		phone, token string
		msg          *whatsapp.OutgoingMessage
		err          string
	}{
		{phoneID, token, nil, "whatsapp: message: missing"},
		{phoneID, token, &whatsapp.OutgoingMessage{Text: text}, "whatsapp: to: missing"},
		{phoneID, token, &whatsapp.OutgoingMessage{To: "1", Recipient: "US.1", Text: text}, "whatsapp: to and recipient: only one may be given"},
		{phoneID, token, &whatsapp.OutgoingMessage{To: "1"}, "whatsapp: a message must have either a text or a template"},
		{phoneID, token, &whatsapp.OutgoingMessage{To: "1", Text: text, Template: &whatsapp.Template{}}, "whatsapp: a message must have either a text or a template"},
		{phoneID, token, &whatsapp.OutgoingMessage{To: "1", Text: &whatsapp.Text{}}, "whatsapp: text.body: missing"},
		{phoneID, token, &whatsapp.OutgoingMessage{To: "1", Template: &whatsapp.Template{Language: whatsapp.Language{Code: "en"}}}, "whatsapp: template.name: missing"},
		{phoneID, token, &whatsapp.OutgoingMessage{To: "1", Template: &whatsapp.Template{Name: "t"}}, "whatsapp: template.language.code: missing"},
		{phoneID, token, &whatsapp.OutgoingMessage{To: "1", Template: &whatsapp.Template{Name: "t", Language: whatsapp.Language{Code: "en"},
			Components: []whatsapp.Component{{Type: "body"}, {}}}}, "whatsapp: template.components[1].type: missing"},
		{"", token, &whatsapp.OutgoingMessage{To: "1", Text: text}, "whatsapp: phone number ID: missing"},
		{phoneID, "", &whatsapp.OutgoingMessage{To: "1", Text: text}, "whatsapp: access token: missing"},
	}
	for _, tc := range tests {
		_, err := client.Send(context.Background(), tc.phone, tc.token, tc.msg)
		assert.EqualError(t, err, tc.err)
		var e *whatsapp.Error
		assert.False(t, errors.As(err, &e), "%s is not Meta's answer", tc.err)
		assert.Equal(t, whatsapp.Permanent, whatsapp.ClassOf(err))
	}
	assert.Empty(t, graph.Requests(), "nothing incomplete is sent")
}

func TestSendErrors(t *testing.T) {
	type check struct {
		status     int
		code       whatsapp.Code
		class      whatsapp.Class
		retryAfter time.Duration
		named      string // the one named check that holds
	}
	tests := map[string]struct {
		failure graphtest.Failure
		want    check
	}{
		"throughput":           {graphtest.Throughput, check{429, 130429, whatsapp.Throttled, 0, ""}},
		"throughput with wait": {withRetryAfter(graphtest.Throughput, 3*time.Second), check{429, 130429, whatsapp.Throttled, 3 * time.Second, ""}},
		"app call limit":       {graphtest.TooManyCalls, check{429, 4, whatsapp.Throttled, 0, ""}},
		"account rate limit":   {graphtest.AccountRateLimit, check{429, 80007, whatsapp.Throttled, 0, ""}},
		"pair rate limit":      {graphtest.PairRateLimit, check{400, 131056, whatsapp.Throttled, 0, ""}},
		"something went wrong": {graphtest.SomethingWentWrong, check{500, 131000, whatsapp.Temporary, 0, ""}},
		"service unavailable":  {graphtest.ServiceUnavailable, check{503, 131016, whatsapp.Temporary, 0, ""}},
		"marketing limit":      {graphtest.MarketingLimit, check{400, 131049, whatsapp.Later, 24 * time.Hour, "MarketingLimit"}},
		"marketing opt-out":    {graphtest.MarketingOptOut, check{400, 131050, whatsapp.Permanent, 0, "MarketingOptOut"}},
		"window closed":        {graphtest.Reengagement, check{400, 131047, whatsapp.Permanent, 0, "WindowClosed"}},
		"undeliverable":        {graphtest.Undeliverable, check{400, 131026, whatsapp.Permanent, 0, "Undeliverable"}},
		"unknown code, 500":    {graphtest.Failure{HTTPStatus: 500, Code: 999999, Message: "new"}, check{500, 999999, whatsapp.Temporary, 0, ""}},
		"unknown code, 429":    {graphtest.Failure{HTTPStatus: 429, Code: 999999, Message: "new"}, check{429, 999999, whatsapp.Throttled, 0, ""}},
		"unknown code, 400":    {graphtest.Failure{HTTPStatus: 400, Code: 999999, Message: "new"}, check{400, 999999, whatsapp.Permanent, 0, ""}},
		"proxy page":           {graphtest.BadGateway, check{502, whatsapp.NoCode, whatsapp.Temporary, 0, ""}},
		"dropped":              {graphtest.Dropped, check{0, whatsapp.NoCode, whatsapp.Temporary, 0, ""}},
		"accepted without id":  {graphtest.Failure{HTTPStatus: 200, Body: `{"messaging_product":"whatsapp"}`}, check{200, whatsapp.NoCode, whatsapp.Temporary, 0, ""}},
		"error_data a string":  {graphtest.Failure{HTTPStatus: 400, Body: `{"error":{"code":100,"message":"(#100) Invalid parameter","error_data":"x"}}`}, check{400, 100, whatsapp.Permanent, 0, ""}},
	}
	named := map[string]func(whatsapp.Code) bool{
		"MarketingLimit": whatsapp.Code.MarketingLimit, "MarketingOptOut": whatsapp.Code.MarketingOptOut,
		"WindowClosed": whatsapp.Code.WindowClosed, "Undeliverable": whatsapp.Code.Undeliverable,
	}

	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			graph, client := newGraph(t)
			graph.Fail(graphtest.Any, 1, tc.failure)

			_, err := client.Send(context.Background(), phoneID, token, &whatsapp.OutgoingMessage{To: "16505551234", Text: &whatsapp.Text{Body: "hi"}})
			var e *whatsapp.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.want.status, e.HTTPStatus)
			assert.Equal(t, tc.want.code, e.Code)
			assert.Equal(t, tc.want.class, e.Class())
			assert.Equal(t, tc.want.class, whatsapp.ClassOf(err))
			assert.Equal(t, tc.want.class.Retryable(), e.Retryable())
			assert.Equal(t, tc.want.class == whatsapp.Permanent, e.Permanent())
			assert.Equal(t, tc.want.retryAfter, e.RetryAfter())
			for check, is := range named {
				assert.Equal(t, check == tc.want.named, is(e.Code), check)
			}
			if tc.failure.Details != "" {
				assert.Equal(t, tc.failure.Details, e.Details)
				assert.NotEmpty(t, e.FBTraceID)
				assert.Contains(t, e.Error(), tc.failure.Details)
			}
			assert.NotContains(t, e.Error(), token)

			// the client sends nothing twice: retrying is its caller's decision
			assert.Len(t, graph.Requests(), 1)
		})
	}
}

func withRetryAfter(f graphtest.Failure, d time.Duration) graphtest.Failure {
	f.RetryAfter = d
	return f
}

func TestSendAuthentication(t *testing.T) {
	graph, client := newGraph(t)
	msg := &whatsapp.OutgoingMessage{To: "16505551234", Text: &whatsapp.Text{Body: "hi"}}

	_, err := client.Send(context.Background(), phoneID, "EAAG-revoked", msg)
	var e *whatsapp.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusUnauthorized, e.HTTPStatus)
	assert.Equal(t, whatsapp.CodeTokenExpired, e.Code)
	assert.Equal(t, whatsapp.Account, e.Class(), "a bad token fails every message alike")
	assert.False(t, e.Retryable())
	assert.False(t, e.Permanent())
	assert.NotContains(t, e.Error(), "EAAG-revoked")

	_, err = client.Send(context.Background(), "999", token, msg)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, whatsapp.Code(100), e.Code)
	assert.Equal(t, 33, e.Subcode)
	assert.Equal(t, "GraphMethodException", e.Type)
	assert.Equal(t, whatsapp.Permanent, e.Class())

	assert.Empty(t, graph.Accepted())
}

func TestSendTimeouts(t *testing.T) {
	graph, client := newGraph(t, whatsapp.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}))
	graph.Fail(graphtest.Any, 0, graphtest.Hung(10*time.Second))
	msg := &whatsapp.OutgoingMessage{To: "16505551234", Text: &whatsapp.Text{Body: "hi"}}

	// the client's own timeout
	start := time.Now()
	_, err := client.Send(context.Background(), phoneID, token, msg)
	var e *whatsapp.Error
	require.ErrorAs(t, err, &e)
	var netErr net.Error
	require.ErrorAs(t, err, &netErr)
	assert.True(t, netErr.Timeout())
	assert.Equal(t, whatsapp.Temporary, e.Class())
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.NotContains(t, err.Error(), graph.URL, "the error doesn't repeat the request")

	// the caller's deadline, shorter than the client's own timeout
	client, err = whatsapp.New(graph.URL)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = client.Send(ctx, phoneID, token, msg)
	require.ErrorAs(t, err, &e)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, whatsapp.Temporary, whatsapp.ClassOf(err))
}

func TestCodeClasses(t *testing.T) {
	tests := []struct {
		code  whatsapp.Code
		class whatsapp.Class
		known bool
	}{
		{4, whatsapp.Throttled, true},
		{80007, whatsapp.Throttled, true},
		{130429, whatsapp.Throttled, true},
		{131048, whatsapp.Throttled, true},
		{131056, whatsapp.Throttled, true},
		{2, whatsapp.Temporary, true},
		{131000, whatsapp.Temporary, true},
		{131016, whatsapp.Temporary, true},
		{131057, whatsapp.Temporary, true},
		{131049, whatsapp.Later, true},
		{0, whatsapp.Account, true},
		{3, whatsapp.Account, true},
		{10, whatsapp.Account, true},
		{190, whatsapp.Account, true},
		{200, whatsapp.Account, true},
		{299, whatsapp.Account, true},
		{368, whatsapp.Account, true},
		{131031, whatsapp.Account, true},
		{131042, whatsapp.Account, true},
		{131026, whatsapp.Permanent, false},
		{131047, whatsapp.Permanent, false},
		{131050, whatsapp.Permanent, false},
		{100, whatsapp.Permanent, false},
		{300, whatsapp.Permanent, false},
		{whatsapp.NoCode, whatsapp.Permanent, false},
	}
	for _, tc := range tests {
		class, known := tc.code.Class()
		assert.Equal(t, tc.class, class, "code %d", tc.code)
		assert.Equal(t, tc.known, known, "code %d", tc.code)
	}

	for class, retryable := range map[whatsapp.Class]bool{
		whatsapp.Permanent: false, whatsapp.Throttled: true, whatsapp.Temporary: true, whatsapp.Later: true, whatsapp.Account: false,
	} {
		assert.Equal(t, retryable, class.Retryable(), class.String())
	}
	assert.Equal(t, "later", whatsapp.Later.String())
	assert.Equal(t, "Class(9)", whatsapp.Class(9).String())
}
