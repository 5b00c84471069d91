package service

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/identity"
	"github.com/optout-dev/optout/internal/sanitize"
	"github.com/optout-dev/optout/internal/strictjson"
)

// The API decodes whatever a client sends and the service checks it. Together they must never panic, must answer
// every bad body with an error of a kind the API turns into a 4xx, and what they accept must hold what the rest of the
// service relies on.

func checkRejected(t *testing.T, err error) {
	kind := KindOf(err)
	require.Contains(t, []Kind{Invalid, Unprocessable}, kind, "error %q has no client kind", err)
	require.NotEmpty(t, err.Error())
}

// decode decodes a body as the API does, returning false for one it refuses.
func decode[T any](body []byte) (*T, bool) {
	req := new(T)
	return req, strictjson.Unmarshal(body, req) == nil
}

func FuzzReadMessage(f *testing.F) {
	for _, seed := range []string{
		`{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:5511987650001", "text": "PARAR"}`,
		`{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "tel:+5511987650001", "text": "", "name": "Ana", "channel": "4e8b1c1e-2b8a-4d1c-9d6e-0a2f3b4c5d6e", "received_on": "2026-11-21T10:00:00Z"}`,
		`{"uuid": "x", "urn": "whatsapp:1"}`,
		`{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:abc"}`,
		`{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:1", "received_on": "yesterday"}`,
		`{"uuid": 1}`, `{"extra": true}`, `[]`, ``, `{"uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "urn": "whatsapp:1"} {}`,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, body []byte) {
		req, ok := decode[MessageRequest](body)
		if !ok {
			return
		}
		m, err := checkMessage(req, now)
		if err != nil {
			checkRejected(t, err)
			return
		}
		assert.Regexp(t, uuidRegex, string(m.uuid))
		assert.NoError(t, m.urn.Validate())
		key, err := identity.Key(string(m.urn))
		assert.NoError(t, err)
		assert.Equal(t, m.urn, key, "contacts are keyed by their identity key")
		assert.LessOrEqual(t, utf8.RuneCountInString(m.text), MaxTextLength)
		assert.Equal(t, time.UTC, m.receivedOn.Location())
	})
}

func FuzzReadBroadcast(f *testing.F) {
	for _, seed := range []string{
		`{"urns": ["whatsapp:5511987650001", "whatsapp:5511987650001"], "template": {"name": "promo", "category": "utility"}}`,
		`{"group": "Customers", "text": "Olá", "dry_run": true}`,
		`{"urns": ["whatsapp:1"], "template": {"name": ""}}`,
		`{"urns": ["fax:1"], "text": "x"}`,
		`{"urns": [], "group": "", "text": ""}`,
		`{"urns": "whatsapp:1"}`, `{}`, `null`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		req, ok := decode[BroadcastRequest](body)
		if !ok {
			return
		}
		b, err := checkBroadcast(req)
		if err != nil {
			checkRejected(t, err)
			return
		}
		assert.True(t, (len(b.urns) > 0) != (b.groupName != ""), "urns or a group")
		assert.True(t, (b.msg.Template != "") != (b.text != ""), "a template or text")
		seen := map[urns.URN]bool{}
		for _, urn := range b.urns {
			assert.NoError(t, urn.Validate())
			assert.False(t, seen[urn], "URNs are deduplicated")
			seen[urn] = true
		}
	})
}

func FuzzReadWorkspace(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"name": "Acme \"Lojas\"; DROP TABLE workspaces;--", "token": "0123456789abcdef", "webhook": {"url": "https://acme.example/hook", "secret": "0123456789abcdef"}}`,
		`{"webhook": {"url": "", "secret": ""}, "token": ""}`,
		`{"webhook": {"url": "https://acme.example/hook", "secret": "********"}}`,
		`{"webhook": {"secret": "0123456789abcdef"}}`,
		`{"token": "short", "group": "VIP", "languages": ["spa"], "default_language": "spa"}`,
		`{"keywords": {"opt_out": {"add": {"any": ["#fim"]}}}, "allowed_categories": ["OTP"]}`,
		`{"nmae": "x"}`, `{"group": ["x"]}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		req, ok := decode[WorkspaceRequest](body)
		if !ok {
			return
		}
		cfg, err := checkWorkspace(req)
		if err != nil {
			checkRejected(t, err)
			return
		}
		require.NotNil(t, cfg)
		assert.LessOrEqual(t, utf8.RuneCountInString(req.Name), 128)
		if req.Token != nil && *req.Token != "" {
			assert.GreaterOrEqual(t, utf8.RuneCountInString(*req.Token), MinTokenLength)
		}
		if w := req.Webhook; w != nil && w.URL != "" {
			assert.GreaterOrEqual(t, utf8.RuneCountInString(w.Secret), MinSecretLength)
			assert.NotEqual(t, Redacted, w.Secret)
		}
	})
}

func FuzzReadConsent(f *testing.F) {
	for _, seed := range []string{
		`{"status": "opted_out"}`, `{"status": "opted_in"}`, `{"status": ""}`, `{"status": 1}`, `{}`, `x`,
		`{"status": "opted_out", "keyword": "  PARAR!", "language": "", "msg_uuid": "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", "source": "flow"}`,
		`{"status": "opted_in", "keyword": "#voltar", "language": "xx", "source": "import"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, ok := decode[ConsentRequest](body)
		if !ok {
			return
		}
		source, keyword, language, err := checkConsent(config.Default, req)
		if err != nil {
			checkRejected(t, err)
			return
		}
		assert.Contains(t, []string{"opted_out", "opted_in"}, string(req.Status))
		assert.Contains(t, []string{"api", "flow"}, string(source))
		assert.NoError(t, sanitize.Check(keyword))
		if language != "" {
			_, err := i18n.ParseLanguage(string(language))
			assert.NoError(t, err)
		}
	})
}

func FuzzReadOptOutsCSV(f *testing.F) {
	for _, seed := range []string{
		"urn,name,language,opted_out_on\nwhatsapp:5511987650001,Ana,por,2026-01-02T03:04:05Z\n",
		"\ufeffURN\nwhatsapp:1\nwhatsapp:1\n",
		"urn\n\"whatsapp:1\nbad\n",
		"phone\n+5511\n", "", "urn,language\nwhatsapp:1,xx\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := ReadOptOutsCSV(strings.NewReader(string(data)))
		if err != nil {
			assert.NotEmpty(t, err.Error())
			assert.Nil(t, list, "nothing is half read")
			return
		}
		seen := map[urns.URN]bool{}
		require.NoError(t, list.pages(2, func(page []*optOutRow) error {
			for _, r := range page {
				assert.NoError(t, r.URN.Validate())
				assert.False(t, seen[r.URN], "a URN is imported once")
				seen[r.URN] = true
				assert.Greater(t, r.Line, 1)
			}
			return nil
		}))
		assert.Len(t, seen, list.Len())
	})
}
