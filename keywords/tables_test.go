package keywords

import (
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

func TestIsEmoji(t *testing.T) {
	// the blocks are only a shortcut through the table
	for r := range rune(unicode.MaxRune + 1) {
		require.Equal(t, unicode.Is(emoji, r), isEmoji(r), "isEmoji mismatch for %U", r)
	}
}
