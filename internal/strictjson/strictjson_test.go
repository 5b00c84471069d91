package strictjson_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/optout-dev/optout/internal/strictjson"
)

func TestUnmarshal(t *testing.T) {
	type inner struct {
		Enabled bool              `json:"enabled"`
		Texts   map[string]string `json:"texts"`
	}
	type doc struct {
		Name    string            `json:"name"`
		Count   int               `json:"count"`
		Tags    []string          `json:"tags"`
		Replies map[string]*inner `json:"replies"`
	}

	tests := []struct {
		input string
		err   string
	}{
		{`{"name": "x", "count": 2, "tags": ["a"], "replies": {"opt_out": {"enabled": true}}}`, ""},
		{``, "empty input: expected a JSON value"},
		{`{"name": "x"`, "malformed JSON: unexpected end of input"},
		{`{"name": "x",}`, "malformed JSON at byte 14: invalid character '}' looking for beginning of object key string"},
		{`{"nmae": "x"}`, `unknown field "nmae"`},
		{`{"count": "two"}`, "count: must be an integer, not string"},
		{`{"tags": "a"}`, "tags: must be a list, not string"},
		{`{"replies": {"opt_out": {"enabled": "yes"}}}`, "replies.enabled: must be true or false, not string"},
		{`{"replies": {"opt_out": {"texts": {"por": 1}}}}`, "replies.texts: must be a string, not number"},
		{`[1]`, "(top level): must be an object, not array"},
		{`{"name": "x"} {"name": "y"}`, "unexpected data after the JSON value"},
	}
	for _, tc := range tests {
		var d doc
		err := strictjson.Unmarshal([]byte(tc.input), &d)
		if tc.err == "" {
			assert.NoError(t, err, "input %s", tc.input)
		} else {
			assert.EqualError(t, err, tc.err, "input %s", tc.input)
		}
	}
}
