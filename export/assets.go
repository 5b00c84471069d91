package export

import (
	"encoding/json"
	"fmt"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets/static"
)

// Source returns a goflow asset source with the flows, fields, groups and campaigns of this export, followed by the
// assets in extra, which is nil or JSON as goflow's static source reads it, e.g. {"channels": [...]}, for the
// assets that exports never carry. Extra assets shouldn't duplicate those of the export.
func (e *Export) Source(extra json.RawMessage) (*static.StaticSource, error) {
	sets := make(map[string][]json.RawMessage)
	if extra != nil {
		if err := jsonx.Unmarshal(extra, &sets); err != nil {
			return nil, fmt.Errorf("unable to read extra assets: %w", err)
		}
	}

	// goflow reads these from the same JSON as exports have them in, as flows are just their definitions
	own := map[string]any{"flows": e.Flows, "fields": e.Fields, "groups": e.Groups, "campaigns": e.Campaigns}
	for key, set := range own {
		data, err := jsonx.Marshal(set)
		if err != nil {
			return nil, err
		}
		var items []json.RawMessage
		if err := jsonx.Unmarshal(data, &items); err != nil {
			return nil, err
		}
		sets[key] = append(items, sets[key]...)
	}

	data, err := jsonx.Marshal(sets)
	if err != nil {
		return nil, err
	}
	return static.NewSource(data)
}
