package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"strings"
)

// SignatureHeader is the header in which Meta signs every webhook notification.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Signature returns the X-Hub-Signature-256 Meta sends with a body: "sha256=" and the hex HMAC-SHA256 of the raw body
// keyed with the app secret.
func Signature(body []byte, appSecret string) string {
	return signaturePrefix + hex.EncodeToString(sum(body, appSecret))
}

// VerifySignature reports whether header is the X-Hub-Signature-256 of body under appSecret. The comparison takes the
// same time wherever the digests differ, so that an attacker can't find a valid signature byte by byte. An empty
// secret verifies nothing: a workspace without one can't authenticate Meta.
func VerifySignature(body []byte, header, appSecret string) bool {
	if appSecret == "" {
		return false
	}
	digest, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok {
		return false
	}
	got, err := hex.DecodeString(digest)
	if err != nil {
		return false
	}
	return hmac.Equal(got, sum(body, appSecret))
}

func sum(body []byte, appSecret string) []byte {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return mac.Sum(nil)
}

// Handshake answers Meta's subscription check, the GET it sends when a webhook URL is configured: hub.mode=subscribe,
// hub.verify_token the token configured with the URL, and hub.challenge, which must be answered back as the whole
// body for Meta to accept the URL. ok is false unless the mode is subscribe, the token matches (compared in constant
// time) and there is a challenge; an empty verifyToken matches nothing.
func Handshake(query url.Values, verifyToken string) (challenge string, ok bool) {
	challenge = query.Get("hub.challenge")
	if verifyToken == "" || query.Get("hub.mode") != "subscribe" || challenge == "" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(query.Get("hub.verify_token")), []byte(verifyToken)) != 1 {
		return "", false
	}
	return challenge, true
}
