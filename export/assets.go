package export

import (
	"encoding/json"
	"fmt"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/assets/static"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows/engine"
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

// MissingDependency is an asset that a flow uses which neither its export nor the extra assets contain.
type MissingDependency struct {
	Flow      *assets.FlowReference
	Reference assets.Reference
}

func (d *MissingDependency) String() string {
	return fmt.Sprintf("%s uses %s", d.Flow, d.Reference)
}

// MissingDependencies returns the assets that flows in this export use which neither it nor extra contain, as
// goflow's flow inspection finds them. Exports don't carry channels, templates or labels, so a flow that uses those
// will always have missing dependencies unless extra provides them.
func (e *Export) MissingDependencies(extra json.RawMessage) ([]*MissingDependency, error) {
	source, err := e.Source(extra)
	if err != nil {
		return nil, err
	}
	sa, err := engine.NewSessionAssets(envs.NewBuilder().Build(), source, nil)
	if err != nil {
		return nil, err
	}

	missing := make([]*MissingDependency, 0)
	for _, f := range e.Flows {
		flow, err := sa.Flows().Get(f.UUID)
		if err != nil {
			return nil, err
		}
		for _, dependency := range flow.Inspect(sa).Dependencies {
			if dependency.Missing() {
				missing = append(missing, &MissingDependency{Flow: flow.Reference(false), Reference: dependency.Reference()})
			}
		}
	}
	return missing, nil
}
