package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Sign returns the X-Optout-Signature of a body: "sha256=" and the hex HMAC-SHA256 of the body keyed with the
// workspace's secret, the scheme GitHub's webhooks use, so that receivers can reuse their verification code.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
