package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A --graph-url that isn't an http(s) URL is refused at start, naming it, before anything is created.
func TestGraphURLRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, url := range []string{"graph.facebook.com", "ftp://graph.facebook.com", "https://"} {
		code, stdout, stderr := optout("", "serve", "--graph-url", url)
		assert.Equal(t, 2, code, "%s: %s", url, stderr)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "optout serve: --graph-url: ", url)
	}
	t.Setenv("OPTOUT_GRAPH_URL", "graph.facebook.com")
	code, _, stderr := optout("", "serve")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "optout serve: --graph-url: ")

	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing created")
}
