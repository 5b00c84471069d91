package quote_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/optout-dev/optout/internal/quote"
)

func TestQ(t *testing.T) {
	assert.Equal(t, `"whatsapp:1"`, quote.Q("whatsapp:1"))
	assert.Equal(t, `""`, quote.Q(""))
	assert.Equal(t, `"a\nb\x00"`, quote.Q("a\nb\x00"))

	exact := strings.Repeat("x", quote.MaxChars)
	assert.Equal(t, `"`+exact+`"`, quote.Q(exact))
	assert.Equal(t, `"`+exact+`"…`, quote.Q(exact+"y"))

	// characters, not bytes: a long run of multi-byte runes is clipped between two of them
	accents := strings.Repeat("é", 150)
	assert.Equal(t, `"`+strings.Repeat("é", 100)+`"…`, quote.Q(accents))
	assert.Equal(t, `"\xff"`, quote.Q("\xff"), "invalid UTF-8 is quoted, not lost")
}
