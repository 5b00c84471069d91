package export_test

import (
	"testing"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/optout-dev/optout/export"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzRead checks that Read never panics, that what it accepts, written back out, reads the same again, and that goflow
// can inspect its flows for the dependencies that import creates. Its seeds in testdata/fuzz/FuzzRead are small real
// exports and some of the quirks of older ones.
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := export.Read(data)
		if err != nil {
			assert.Nil(t, e)
			return
		}

		marshaled, err := jsonx.Marshal(e)
		require.NoError(t, err)

		reread, err := export.Read(marshaled)
		require.NoError(t, err, "error re-reading %s", marshaled)

		reread.Version = e.Version // written as the current version whatever was read
		assert.Equal(t, e, reread)

		// what import creates for its flows makes an export that reads again
		deps, err := e.Dependencies(nil)
		require.NoError(t, err)
		e.AddDependencies(deps)
		marshaled, err = jsonx.Marshal(e)
		require.NoError(t, err)
		_, err = export.Read(marshaled)
		assert.NoError(t, err, "error re-reading %s with its dependencies", marshaled)
	})
}
