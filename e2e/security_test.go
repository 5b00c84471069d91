package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
)

// workspaceEndpoints are every endpoint of a workspace, with a path for ws.
func workspaceEndpoints(ws string) [][2]string {
	p := "/v1/workspaces/" + ws
	return [][2]string{
		{"PUT", p}, {"GET", p},
		{"POST", p + "/import"},
		{"POST", p + "/messages"},
		{"GET", p + "/contacts/whatsapp:5511987650001"},
		{"POST", p + "/contacts/whatsapp:5511987650001/consent"},
		{"GET", p + "/optouts"},
		{"GET", p + "/events"},
		{"POST", p + "/broadcasts"},
		{"GET", p + "/broadcasts/5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41"},
		{"GET", p + "/webhooks"},
		{"GET", p + "/webhooks/5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41"},
		{"GET", p + "/outbox"},
		{"GET", p + "/groups"},
		{"POST", p + "/groups"},
		{"POST", p + "/groups/Customers/contacts"},
		{"DELETE", p + "/groups/Customers/contacts"},
		{"DELETE", p},
	}
}

func TestSecurity(t *testing.T) {
	receiver := newReceiver(t)
	srv := testenv.StartServe(t, serveEnv(map[string]string{
		"OPTOUT_DB": testenv.PostgresSchema(t), "OPTOUT_REDIS": testenv.Redis(t), "OPTOUT_LOG_LEVEL": "debug",
	}))
	admin := &client{t: t, base: srv.URL, token: adminToken}
	acme, acmeClient := setup(t, admin, receiver.URL())
	_, globexClient := setup(t, admin, receiver.URL())
	var responses []string
	record := func(status int, body string) (int, string) {
		responses = append(responses, body)
		return status, body
	}

	t.Run("tokens", func(t *testing.T) {
		anonymous := &client{t: t, base: srv.URL}
		stranger := &client{t: t, base: srv.URL, token: "not-a-token-of-anybody"}
		for _, e := range workspaceEndpoints(acme) {
			status, body := record(anonymous.do(e[0], e[1], map[string]any{}))
			assert.Equal(t, http.StatusUnauthorized, status, "%s %s without a token: %s", e[0], e[1], body)
			status, body = record(stranger.do(e[0], e[1], map[string]any{}))
			assert.Equal(t, http.StatusUnauthorized, status, "%s %s with a token of nobody's: %s", e[0], e[1], body)
			status, body = record(globexClient.do(e[0], e[1], map[string]any{}))
			assert.Equal(t, http.StatusForbidden, status, "%s %s with another workspace's token: %s", e[0], e[1], body)
			assert.NotEmpty(t, jsonPath(body, "error"))

			status, body = record(acmeClient.do(e[0], e[1], map[string]any{}))
			if e[1] == "/v1/workspaces/"+acme {
				assert.Equal(t, http.StatusForbidden, status, "%s %s: the configuration is the admin's: %s", e[0], e[1], body)
			} else {
				assert.NotContains(t, []int{401, 403}, status, "%s %s with the workspace's own token", e[0], e[1])
			}
		}
	})

	t.Run("webhook secret", func(t *testing.T) {
		// a receiver that fails, echoing the signature it was sent: the failures are logged and recorded
		receiver.setMode("fail")
		status, body := record(acmeClient.do("POST", "/v1/workspaces/"+acme+"/messages", map[string]string{"uuid": string(uuids.NewV4()), "urn": "whatsapp:5511987650001", "text": "parar"}))
		require.Equal(t, http.StatusOK, status, body)
		require.Eventually(t, func() bool { return receiver.failures() >= 2 }, time.Minute, 50*time.Millisecond)
		receiver.setMode("ok")
		receiver.await(t, 1)

		record(admin.do("GET", "/v1/workspaces/"+acme, nil))
		for _, e := range acmeClient.all("/v1/workspaces/" + acme + "/webhooks") {
			record(acmeClient.do("GET", "/v1/workspaces/"+acme+"/webhooks/"+jsonPath(e, "id").(string), nil))
		}
		receiver.mu.Lock()
		signatures := receiver.signatures
		receiver.mu.Unlock()
		require.NotEmpty(t, signatures)
		for _, r := range responses {
			assert.NotContains(t, r, secret)
			for _, sig := range signatures {
				assert.NotContains(t, r, strings.TrimPrefix(sig, "sha256="))
			}
		}
		assert.NotContains(t, srv.LogText(), secret, "the secret in a log line")
		for _, sig := range signatures {
			assert.NotContains(t, srv.LogText(), strings.TrimPrefix(sig, "sha256="), "a signature in a log line")
		}
		assert.Contains(t, srv.LogText(), `"level":"DEBUG"`, "debug logging was on")
	})

	t.Run("webhook URLs", func(t *testing.T) {
		strict := testenv.StartServe(t, map[string]string{"OPTOUT_DB": testenv.PostgresSchema(t), "OPTOUT_ADMIN_TOKEN": adminToken})
		strictAdmin := &client{t: t, base: strict.URL, token: adminToken}
		for url, problem := range map[string]string{
			"ftp://example.com/hook":                 `scheme "ftp" is not http or https`,
			"http://10.0.0.5/hook":                   "private",
			"http://192.168.1.10/hook":               "private",
			"http://127.0.0.1:8080/hook":             "loopback",
			"http://[::1]/hook":                      "loopback",
			"http://localhost/hook":                  "localhost",
			"http://169.254.169.254/latest/metadata": "link-local",
			"http://[fe80::1]/hook":                  "link-local",
			"http://user:pass@93.184.216.34/hook":    "user",
			"https:///hook":                          "host",
		} {
			status, body := strictAdmin.do("PUT", "/v1/workspaces/strict", map[string]any{"webhook": map[string]string{"url": url, "secret": secret}})
			assert.Equal(t, http.StatusUnprocessableEntity, status, "%s: %s", url, body)
			assert.True(t, strings.HasPrefix(jsonPath(body, "error").(string), "webhook.url: "), "%s: %s", url, body)
			assert.Contains(t, jsonPath(body, "error"), problem, url)
		}
		status, body := strictAdmin.do("PUT", "/v1/workspaces/strict", map[string]any{"webhook": map[string]string{"url": "https://93.184.216.34/hook", "secret": secret}})
		assert.Equal(t, http.StatusCreated, status, "a public address: %s", body)

		// redirects are not followed, so one can't lead a delivery to a private address
		target := newReceiver(t)
		receiver.mu.Lock()
		receiver.mode, receiver.redirect = "redirect", target.URL()
		receiver.mu.Unlock()
		defer receiver.setMode("ok")
		status, body = acmeClient.do("POST", "/v1/workspaces/"+acme+"/messages", map[string]string{"uuid": string(uuids.NewV4()), "urn": "whatsapp:5511987650002", "text": "stop"})
		require.Equal(t, http.StatusOK, status, body)
		var lastError string
		require.Eventually(t, func() bool {
			for _, e := range acmeClient.all("/v1/workspaces/" + acme + "/webhooks?status=pending") {
				lastError, _ = jsonPath(e, "last_error").(string)
				if lastError != "" {
					return true
				}
			}
			return false
		}, time.Minute, 50*time.Millisecond)
		assert.Contains(t, lastError, "not followed")
		assert.Empty(t, target.distinct(), "the redirect's target got nothing")
	})

	t.Run("bodies and malformed input", func(t *testing.T) {
		big := `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:1", "text": "` + strings.Repeat("x", 1<<20) + `"}`
		for _, e := range workspaceEndpoints(acme) {
			if e[0] != "GET" && !strings.HasSuffix(e[1], "/import") { // imports take exports of up to 32 MiB
				status, body := admin.doRaw(e[0], e[1], []byte(big))
				assert.Equal(t, http.StatusRequestEntityTooLarge, status, "%s %s: %s", e[0], e[1], body)
			}
		}

		p := "/v1/workspaces/" + acme
		for _, tc := range []struct {
			method, path, body string
			status             int
			err                string
		}{
			{"POST", p + "/messages", `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": `, 400, "malformed JSON"},
			{"POST", p + "/messages", `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:1", "txt": "hi"}`, 400, `unknown field "txt"`},
			{"POST", p + "/messages", `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:55-11", "text": "hi"}`, 422, "urn: "},
			{"POST", p + "/messages", `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:", "text": "hi"}`, 422, "urn: "},
			{"POST", p + "/broadcasts", `{"urns": ["whatsapp:5511987650001", "nope"], "text": "hi"}`, 422, "urns[1]: "},
			{"POST", p + "/broadcasts", `{"urns": ["whatsapp:5511987650001"], "template": {"name": "x", "category": "SPAM"}}`, 422, "template.category: "},
			{"PUT", p, `{"languages": ["por", "portuguese"]}`, 422, "languages[1]: "},
			{"PUT", p, `{"default_language": "xyz"}`, 422, "default_language: "},
			{"PUT", p, `{"replies": {"opt_out": {"texts": {"fra": "Au revoir"}}}}`, 422, "replies.opt_out.texts.fra: "},
			{"PUT", p, `{"allowed_categories": ["PROMOTION"]}`, 422, "allowed_categories[0]: "},
			{"PUT", p, `{"templates": {"promo": "NEWSLETTER"}}`, 422, "templates.promo: "},
			{"PUT", p, `{"keywords": {"opt_out": {"add": {"eng": ["#start"]}}}}`, 422, `keyword "#start"`},
			{"POST", p + "/contacts/whatsapp:5511987650001/consent", `{"status": "maybe"}`, 422, "status: "},
			{"GET", p + "/contacts/not-a-urn", ``, 400, "urn: "},
		} {
			status, body := admin.doRaw(tc.method, tc.path, []byte(tc.body))
			assert.Equal(t, tc.status, status, "%s %s %s: %s", tc.method, tc.path, tc.body, body)
			assert.Contains(t, jsonPath(body, "error"), tc.err, "%s %s %s", tc.method, tc.path, tc.body)
		}
	})

	t.Run("names with quotes and SQL", func(t *testing.T) {
		name := `Lojas "O'Brien"); DROP TABLE workspaces;--`
		group := `Robert'); DROP TABLE contacts;-- "opted out"`
		keyword := `it's "over"; DELETE FROM contacts`
		status, body := admin.do("PUT", "/v1/workspaces/"+acme, map[string]any{
			"name": name, "group": group,
			"keywords":  map[string]any{"opt_out": map[string]any{"add": map[string][]string{"eng": {keyword}}}},
			"templates": map[string]string{`promo'; --`: "MARKETING"},
		})
		require.Equal(t, http.StatusOK, status, body)
		status, body = admin.do("GET", "/v1/workspaces/"+acme, nil)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, name, jsonPath(body, "name"))
		assert.Equal(t, group, jsonPath(body, "group"))
		assert.Equal(t, []any{keyword}, jsonPath(body, "keywords", "opt_out", "add", "eng"))
		assert.Equal(t, "MARKETING", jsonPath(body, "templates", `promo'; --`))

		contactName := `Ana "Nana" D'Ávila'; SELECT pg_sleep(10);--`
		status, body = acmeClient.do("POST", "/v1/workspaces/"+acme+"/messages", map[string]string{"uuid": string(uuids.NewV4()), "urn": "whatsapp:5511987650009", "text": keyword, "name": contactName})
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, "opt_out", jsonPath(body, "intent"))
		assert.Equal(t, []any{group}, jsonPath(body, "contact", "groups"))
		status, body = acmeClient.do("GET", "/v1/workspaces/"+acme+"/contacts/whatsapp:5511987650009", nil)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, contactName, jsonPath(body, "name"))
		assert.Equal(t, []any{group}, jsonPath(body, "groups"))

		status, body = acmeClient.do("POST", "/v1/workspaces/"+acme+"/broadcasts", map[string]any{"group": group, "template": map[string]string{"name": `promo'; --`}})
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, float64(1), jsonPath(body, "skipped", "opted_out"), "its member opted out and the template is marketing")
	})

	t.Run("control characters", func(t *testing.T) {
		checkControlCharacters(t, admin, acmeClient, acme, receiver.URL())
	})
}

// TestControlCharactersEmbedded checks on the embedded store what TestSecurity checks on PostgreSQL, which refuses a
// NUL in text where SQLite keeps it: the service cleans or refuses such text before either sees it.
func TestControlCharactersEmbedded(t *testing.T) {
	receiver := newReceiver(t)
	srv := testenv.StartServe(t, serveEnv(map[string]string{"OPTOUT_DATA_DIR": t.TempDir()}))
	admin := &client{t: t, base: srv.URL, token: adminToken}
	acme, acmeClient := setup(t, admin, receiver.URL())
	checkControlCharacters(t, admin, acmeClient, acme, receiver.URL())
}

// checkControlCharacters checks that nothing a sender controls may block an opt-out: a NUL, which PostgreSQL refuses
// in text, is cleaned from names and from a message's text, and refused with a 422 naming the field elsewhere.
func checkControlCharacters(t *testing.T, admin, acmeClient *client, acme, receiverURL string) {
	status, body := acmeClient.do("POST", "/v1/workspaces/"+acme+"/messages", map[string]string{"uuid": string(uuids.NewV4()),
		"urn": "whatsapp:5511987650010", "text": "PA\x00RAR\x07", "name": "Ana\x00 da\x1b Silva\n"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "opt_out", jsonPath(body, "intent"))
	assert.Equal(t, "opted_out", jsonPath(body, "contact", "opt_status"))
	assert.Equal(t, "Ana da Silva", jsonPath(body, "contact", "name"))

	status, body = admin.do("PUT", "/v1/workspaces/"+acme, map[string]any{"name": "Acme\x00 Lojas"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "Acme Lojas", jsonPath(body, "name"))

	for _, tc := range []struct {
		method, path, field string
		body                any
	}{
		{"POST", "/v1/workspaces/" + acme + "/broadcasts", "text", map[string]any{"urns": []string{"whatsapp:5511987650010"}, "text": "Olá\x00"}},
		{"POST", "/v1/workspaces/" + acme + "/broadcasts", "template.name", map[string]any{"urns": []string{"whatsapp:5511987650010"}, "template": map[string]string{"name": "promo\x00"}}},
		{"POST", "/v1/workspaces/" + acme + "/broadcasts", "group", map[string]any{"group": "VIP\x00", "text": "hi"}},
		{"PUT", "/v1/workspaces/" + acme, "group", map[string]any{"group": "Opted\x00Out"}},
		{"PUT", "/v1/workspaces/" + acme, "replies.opt_out.texts.por", map[string]any{"replies": map[string]any{"opt_out": map[string]any{"texts": map[string]string{"por": "Tchau\x00"}}}}},
		{"PUT", "/v1/workspaces/" + acme, "keywords.opt_out.add.por", map[string]any{"keywords": map[string]any{"opt_out": map[string]any{"add": map[string][]string{"por": {"fim\x00"}}}}}},
		{"PUT", "/v1/workspaces/" + acme, "templates", map[string]any{"templates": map[string]string{"promo\x00": "MARKETING"}}},
		{"PUT", "/v1/workspaces/" + acme, "webhook.secret", map[string]any{"webhook": map[string]string{"url": receiverURL, "secret": "a-long-secret-with\x00-nul"}}},
	} {
		status, body := admin.do(tc.method, tc.path, tc.body)
		assert.Equal(t, http.StatusUnprocessableEntity, status, "%s %s %v: %s", tc.method, tc.path, tc.body, body)
		assert.True(t, strings.HasPrefix(jsonPath(body, "error").(string), tc.field+": "), "%s: %s", tc.field, body)
	}
}
