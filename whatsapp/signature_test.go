package whatsapp_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/optout-dev/optout/whatsapp"
)

func TestSignature(t *testing.T) {
	// computed apart from this package: printf hello | openssl dgst -sha256 -hmac secret
	const hello = "sha256=88aab3ede8d3adf94d26ab90d3bafd4a2083070c3bcce9c014ee04a443847c0b"
	assert.Equal(t, hello, whatsapp.Signature([]byte("hello"), "secret"))

	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	valid := whatsapp.Signature(body, "app-secret")

	tests := []struct {
		name   string
		body   []byte
		header string
		secret string
		want   bool
	}{
		{"known vector", []byte("hello"), hello, "secret", true},
		{"valid", body, valid, "app-secret", true},
		{"uppercase hex", body, "sha256=" + strings.ToUpper(strings.TrimPrefix(valid, "sha256=")), "app-secret", true},
		{"wrong secret", body, valid, "other-secret", false},
		{"missing header", body, "", "app-secret", false},
		{"no prefix", body, strings.TrimPrefix(valid, "sha256="), "app-secret", false},
		{"sha1 prefix", body, "sha1=" + strings.TrimPrefix(valid, "sha256="), "app-secret", false},
		{"not hex", body, "sha256=zz" + valid[9:], "app-secret", false},
		{"truncated", body, valid[:len(valid)-2], "app-secret", false},
		{"tampered body", []byte(strings.Replace(string(body), "[]", "[{}]", 1)), valid, "app-secret", false},
		{"empty secret", body, whatsapp.Signature(body, ""), "", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, whatsapp.VerifySignature(tc.body, tc.header, tc.secret), tc.name)
	}
}

func TestHandshake(t *testing.T) {
	query := func(mode, token, challenge string) url.Values {
		q := url.Values{}
		for k, v := range map[string]string{"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge} {
			if v != "" {
				q.Set(k, v)
			}
		}
		return q
	}
	tests := []struct {
		name        string
		query       url.Values
		verifyToken string
		challenge   string
	}{
		{"valid", query("subscribe", "tok", "1158201444"), "tok", "1158201444"},
		{"wrong token", query("subscribe", "other", "1158201444"), "tok", ""},
		{"no token", query("subscribe", "", "1158201444"), "tok", ""},
		{"no verify token configured", query("subscribe", "", "1158201444"), "", ""},
		{"wrong mode", query("unsubscribe", "tok", "1158201444"), "tok", ""},
		{"no mode", query("", "tok", "1158201444"), "tok", ""},
		{"no challenge", query("subscribe", "tok", ""), "tok", ""},
	}
	for _, tc := range tests {
		challenge, ok := whatsapp.Handshake(tc.query, tc.verifyToken)
		assert.Equal(t, tc.challenge != "", ok, tc.name)
		assert.Equal(t, tc.challenge, challenge, tc.name)
	}
}
