package export

import (
	"encoding/json"
	"fmt"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/definition"
	"github.com/nyaruka/goflow/flows/definition/migrations"
)

// Flow is a flow definition from an export, migrated to goflow's current spec version.
type Flow struct {
	UUID       assets.FlowUUID
	Name       string
	Type       flows.FlowType
	Definition json.RawMessage
}

// UnmarshalJSON reads a flow definition of any spec version that goflow can migrate, legacy ones included, and
// validates its nodes, actions and routers against goflow's type registries, so that any types a host registers
// are valid too.
func (f *Flow) UnmarshalJSON(data []byte) error {
	flow, err := definition.ReadFlow(data, nil)
	if err != nil {
		return locateNodeError(data, err)
	}

	def, err := jsonx.Marshal(flow)
	if err != nil {
		return err
	}

	*f = Flow{UUID: flow.UUID(), Name: flow.Name(), Type: flow.Type(), Definition: def}
	return nil
}

// MarshalJSON marshals this flow as its definition, which is how exports list flows.
func (f *Flow) MarshalJSON() ([]byte, error) {
	return f.Definition.MarshalJSON()
}

// locateNodeError prefixes an error reading a flow with the index of the node it came from, which goflow doesn't say,
// by reading the nodes of the migrated definition one at a time as goflow reads them. Errors found elsewhere, and
// errors validating nodes (which goflow already names by UUID), are returned as they are.
func locateNodeError(data []byte, err error) error {
	migrated, merr := migrations.MigrateToLatest(data, migrations.DefaultConfig)
	if merr != nil {
		return err
	}

	var envelope struct {
		Nodes []json.RawMessage `json:"nodes"`
	}
	if jsonx.Unmarshal(migrated, &envelope) != nil {
		return err
	}

	for i, raw := range envelope.Nodes {
		node, ok := definition.NewNode("", nil, nil, nil).(json.Unmarshaler)
		if !ok {
			return err
		}
		if nodeErr := node.UnmarshalJSON(raw); nodeErr != nil {
			return fmt.Errorf("nodes[%d]: %w", i, nodeErr)
		}
	}
	return err
}
