package export_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/test"
	"github.com/optout-dev/optout/export"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readCase is an input for Read, given as the JSON of an export or flow, or as raw text for input that isn't JSON.
type readCase struct {
	Description string          `json:"description"`
	Export      json.RawMessage `json:"export,omitempty"`
	Raw         *string         `json:"raw,omitempty"`
}

func (c *readCase) input() []byte {
	if c.Raw != nil {
		return []byte(*c.Raw)
	}
	return c.Export
}

// loadCases reads the cases in a testdata file, and returns a function to save them if tests are updating snapshots.
func loadCases[T any](t *testing.T, path string) ([]T, func()) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)

	var cases []T
	require.NoError(t, jsonx.Unmarshal(data, &cases))

	return cases, func() {
		if test.UpdateSnapshots {
			updated, err := jsonx.MarshalPretty(cases)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, append(updated, '\n'), 0644))
		}
	}
}

func TestReadErrors(t *testing.T) {
	type errorCase struct {
		readCase
		Error string `json:"error"`
	}

	cases, save := loadCases[errorCase](t, "testdata/read_errors.json")

	for i, tc := range cases {
		e, err := export.Read(tc.input())

		if test.UpdateSnapshots {
			require.Error(t, err, "%s: read without error", tc.Description)
			cases[i].Error = err.Error()
		} else {
			assert.Nil(t, e, "%s: returned an export", tc.Description)
			assert.EqualError(t, err, tc.Error, "%s: error mismatch", tc.Description)
		}
	}

	save()
}

func TestRead(t *testing.T) {
	type successCase struct {
		readCase
		Read map[string]json.RawMessage `json:"read"` // the properties of the export to check
	}

	cases, save := loadCases[successCase](t, "testdata/read.json")

	for i, tc := range cases {
		e, err := export.Read(tc.input())
		require.NoError(t, err, "%s: error reading", tc.Description)

		actual := map[string]any{
			"version":   e.Version,
			"fields":    e.Fields,
			"groups":    e.Groups,
			"campaigns": e.Campaigns,
			"triggers":  e.Triggers,
		}
		for property, expected := range tc.Read {
			actualJSON, err := jsonx.Marshal(actual[property])
			require.NoError(t, err)

			if test.UpdateSnapshots {
				cases[i].Read[property] = actualJSON
			} else {
				test.AssertEqualJSON(t, expected, actualJSON, "%s: %s mismatch", tc.Description, property)
			}
		}

		marshaled, err := jsonx.Marshal(e)
		require.NoError(t, err)
		reread, err := export.Read(marshaled)
		require.NoError(t, err, "%s: error re-reading", tc.Description)
		reread.Version = e.Version
		assert.Equal(t, e, reread, "%s: re-read mismatch", tc.Description)
	}

	save()
}
