package sanitize_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/optout-dev/optout/internal/sanitize"
)

func TestName(t *testing.T) {
	assert.Equal(t, "Ana da Silva", sanitize.Name("Ana\x00 da\x1b Silva\n"))
	assert.Equal(t, "Ana", sanitize.Name(" \tAna\u0085 "))
	assert.Equal(t, "José 🙂", sanitize.Name("José 🙂"), "anything but control characters is kept")
	assert.Equal(t, "", sanitize.Name("\x00\x01"))
}

func TestText(t *testing.T) {
	assert.Equal(t, "PARAR", sanitize.Text("PA\x00RAR\x07"))
	assert.Equal(t, "linha 1\nlinha 2\tfim\r\n", sanitize.Text("linha 1\nlinha 2\tfim\r\n"), "line breaks and tabs stay")
	assert.Equal(t, "Olá", sanitize.Text("Olá"))
}

func TestCheck(t *testing.T) {
	assert.NoError(t, sanitize.Check("Olá\tmundo\r\n"))
	assert.EqualError(t, sanitize.Check("Olá\x00"), "has the control character U+0000 at character 4")
	assert.EqualError(t, sanitize.Check("\u0085"), "has the control character U+0085 at character 1")
}
