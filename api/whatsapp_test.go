package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/api"
	"github.com/optout-dev/optout/whatsapp"
	"github.com/optout-dev/optout/whatsapp/graphtest"
)

const (
	appSecret   = "the-app-secret-of-the-test"
	verifyToken = "the-verify-token-of-the-test"
)

// Meta authenticates by the verify token and by its signature, never by a bearer token.
func TestWhatsAppEndpoints(t *testing.T) {
	srv := newServer(t)
	status, body, _ := call(t, srv, "PUT", "/v1/workspaces/acme", admin, `{"token": "token-of-acme-1234", "whatsapp": {
		"phone_number_id": "106540352242922", "access_token": "EAAG-token", "app_secret": "`+appSecret+`", "verify_token": "`+verifyToken+`"}}`)
	require.Equal(t, http.StatusCreated, status, body)
	assert.NotContains(t, body, appSecret)
	assert.NotContains(t, body, "EAAG-token")

	// the subscription check: the challenge as the whole body, as plain text
	status, body, headers := call(t, srv, "GET", "/v1/workspaces/acme/whatsapp?hub.mode=subscribe&hub.verify_token="+verifyToken+"&hub.challenge=1158201444", "", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "1158201444", body)
	assert.Equal(t, "text/plain; charset=utf-8", headers.Get("Content-Type"))
	assert.Equal(t, "nosniff", headers.Get("X-Content-Type-Options"))
	status, _, _ = call(t, srv, "GET", "/v1/workspaces/acme/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1", "", "")
	assert.Equal(t, http.StatusForbidden, status)
	status, _, _ = call(t, srv, "GET", "/v1/workspaces/nobody/whatsapp?hub.mode=subscribe&hub.verify_token="+verifyToken+"&hub.challenge=1", "", "")
	assert.Equal(t, http.StatusForbidden, status)

	account := graphtest.Account{WABAID: "102290129340398", PhoneNumberID: "106540352242922"}
	notification := string(account.Notification(graphtest.Text{Sender: graphtest.Sender{From: "5511987650001"}, Body: "PARAR"}))
	signed := whatsapp.Signature([]byte(notification), appSecret)

	for name, tc := range map[string]struct {
		path, body, signature string
		status                int
	}{
		"signed":             {"/v1/workspaces/acme/whatsapp", notification, signed, http.StatusOK},
		"unsigned":           {"/v1/workspaces/acme/whatsapp", notification, "", http.StatusUnauthorized},
		"signed otherwise":   {"/v1/workspaces/acme/whatsapp", notification, whatsapp.Signature([]byte(notification), "guess"), http.StatusUnauthorized},
		"another body":       {"/v1/workspaces/acme/whatsapp", notification + " ", signed, http.StatusUnauthorized},
		"another workspace":  {"/v1/workspaces/nobody/whatsapp", notification, signed, http.StatusUnauthorized},
		"not a notification": {"/v1/workspaces/acme/whatsapp", `{"object": "page"}`, whatsapp.Signature([]byte(`{"object": "page"}`), appSecret), http.StatusBadRequest},
	} {
		status, body, _ := call(t, srv, "POST", tc.path, "", tc.body, whatsapp.SignatureHeader, tc.signature)
		assert.Equal(t, tc.status, status, "%s: %s", name, body)
		if tc.status == http.StatusOK {
			assert.JSONEq(t, `{"kept": 1}`, body)
		}
	}
	status, body, _ = call(t, srv, "POST", "/v1/workspaces/acme/whatsapp", "", notification, whatsapp.SignatureHeader, signed)
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"kept": 0}`, body, "a redelivery")

	huge := strings.Repeat(" ", api.MaxNotificationSize+1)
	status, _, _ = call(t, srv, "POST", "/v1/workspaces/acme/whatsapp", "", huge, whatsapp.SignatureHeader, whatsapp.Signature([]byte(huge), appSecret))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)

	// the templates log is the workspace's, behind its token
	status, _, _ = call(t, srv, "GET", "/v1/workspaces/acme/templates/changes", "", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, body, _ = call(t, srv, "GET", "/v1/workspaces/acme/templates/changes", "token-of-acme-1234", "")
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"results": []}`, body)
}
