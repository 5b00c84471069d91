package main

import (
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// import-optouts reads its list twice: a file is read again where it began, and standard input from a pipe, which
// can't be, is copied to a temporary file, removed when the import is done.
func TestRereadable(t *testing.T) {
	const list = "urn\nwhatsapp:5511987650001\n"
	twice := func(in io.ReadSeeker) string {
		start, err := in.Seek(0, io.SeekCurrent)
		require.NoError(t, err)
		first, err := io.ReadAll(in)
		require.NoError(t, err)
		_, err = in.Seek(start, io.SeekStart)
		require.NoError(t, err)
		second, err := io.ReadAll(in)
		require.NoError(t, err)
		assert.Equal(t, string(first), string(second))
		return string(first)
	}

	r, w, err := os.Pipe()
	require.NoError(t, err)
	go func() {
		w.WriteString(list)
		w.Close()
	}()
	in, done, err := rereadable(r)
	require.NoError(t, err)
	copied, ok := in.(*os.File)
	require.True(t, ok, "a copy")
	assert.Equal(t, list, twice(in))
	done()
	assert.NoFileExists(t, copied.Name())

	f, err := os.CreateTemp(t.TempDir(), "*.csv")
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("skipped\n" + list)
	require.NoError(t, err)
	_, err = f.Seek(int64(len("skipped\n")), io.SeekStart)
	require.NoError(t, err)
	in, done, err = rereadable(f)
	require.NoError(t, err)
	assert.Same(t, f, in, "the file itself")
	assert.Equal(t, list, twice(in))
	done()
}
