package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/assets/static"
	"github.com/nyaruka/goflow/flows/definition/legacy"

	"github.com/optout-dev/optout/internal/strictjson"
)

// CurrentVersion is the version that exports are written with. RapidPro still writes it because what surrounds the
// flows hasn't changed since, while the flows themselves carry their own newer spec versions.
const CurrentVersion = "13"

// Export is a RapidPro-format export: what the service imports into a workspace. As Read returns it, everything its
// campaigns and triggers reference is in it, so a host can import it without looking anything up elsewhere.
type Export struct {
	Version   string // as the export declared it, or empty if it was read from a single flow definition
	Site      string
	Flows     []*Flow
	Fields    []*Field
	Groups    []*Group
	Campaigns []*Campaign
	Triggers  []*Trigger
}

// exportEnvelope is what Read decodes a document into: an export's parts, and what tells a flow definition.
type exportEnvelope struct {
	Nodes       json.RawMessage `json:"nodes"`
	SpecVersion json.RawMessage `json:"spec_version"`

	Version   json.RawMessage   `json:"version"`
	Site      string            `json:"site"`
	Flows     []json.RawMessage `json:"flows"`
	Campaigns []json.RawMessage `json:"campaigns"`
	Triggers  []json.RawMessage `json:"triggers"`
	Fields    []json.RawMessage `json:"fields"`
	Groups    []json.RawMessage `json:"groups"`
}

// Read reads an export, or a single flow definition which it wraps as an export of one flow, migrating flows to
// goflow's current spec and validating everything that goflow can validate. Errors name where the problem is.
//
// Campaigns and triggers may reference groups that the export doesn't declare, as older exports don't declare
// any, and Read adds those as groups without queries, as RapidPro creates them on import. Likewise, an export
// without a list of fields gets a datetime field for each field its campaign events are relative to.
func Read(data []byte) (*Export, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("is empty")
	}

	// one decoding finds out what the document is and keeps the parts of an export, which is most of a document's
	// size, so that a large export is held once as its parts rather than again as a map of its properties
	doc := &exportEnvelope{}
	if err := jsonx.Unmarshal(data, doc); err != nil {
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntaxErr):
			return nil, fmt.Errorf("isn't valid JSON: %w", err)
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return nil, fmt.Errorf("field '%s' must be %s, not %s", typeErr.Field, strictjson.Kind(typeErr.Type), typeErr.Value)
		}
		return nil, errors.New("isn't a JSON object")
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil, errors.New("isn't a JSON object")
	}

	hasFlows, hasVersion, hasNodes, hasSpecVersion := doc.Flows != nil, doc.Version != nil, doc.Nodes != nil, doc.SpecVersion != nil
	isFlow := hasNodes || hasSpecVersion || (!hasFlows && legacy.IsPossibleDefinition(data))

	switch {
	case hasFlows || (hasVersion && !isFlow):
		return readExport(doc)
	case isFlow:
		// RapidPro migrates a legacy flow read on its own from the flow's version, which is held to what exports are
		if hasVersion && !hasSpecVersion && !hasNodes {
			if _, err := readVersion(doc.Version); err != nil {
				return nil, err
			}
		}
		flow := &Flow{}
		if err := flow.UnmarshalJSON(data); err != nil {
			return nil, err
		}
		return &Export{Flows: []*Flow{flow}, Fields: []*Field{}, Groups: []*Group{}, Campaigns: []*Campaign{}, Triggers: []*Trigger{}}, nil
	default:
		return nil, errors.New("isn't an export (no flows) or a flow definition (no nodes)")
	}
}

func readExport(envelope *exportEnvelope) (*Export, error) {
	version, err := readVersion(envelope.Version)
	if err != nil {
		return nil, err
	}

	if len(envelope.Flows)+len(envelope.Fields)+len(envelope.Groups)+len(envelope.Campaigns)+len(envelope.Triggers) == 0 {
		return nil, errors.New("has no flows, fields, groups, campaigns or triggers")
	}

	e := &Export{Version: version, Site: envelope.Site, Flows: make([]*Flow, len(envelope.Flows))}

	for i, raw := range envelope.Flows {
		e.Flows[i] = &Flow{}
		if err := e.Flows[i].UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("%s: %w", flowPath(i, raw), err)
		}
		envelope.Flows[i] = nil // read: its definition is the flow's now
	}
	if e.Fields, err = readItems[Field]("fields", envelope.Fields); err != nil {
		return nil, err
	}
	if e.Groups, err = readItems[Group]("groups", envelope.Groups); err != nil {
		return nil, err
	}
	if e.Campaigns, err = readItems[Campaign]("campaigns", envelope.Campaigns); err != nil {
		return nil, err
	}
	if e.Triggers, err = readItems[Trigger]("triggers", envelope.Triggers); err != nil {
		return nil, err
	}

	if err := e.resolve(envelope.Fields != nil); err != nil {
		return nil, err
	}
	return e, nil
}

// flowPath is the path of a flow in an export, with its name if it has one, which is how most people know it.
func flowPath(i int, data []byte) string {
	path := fmt.Sprintf("flows[%d]", i)

	// goflow's static flow asset knows where legacy definitions keep their names, and failing to read one just means
	// there's no name to show
	asset := &static.Flow{}
	jsonx.Unmarshal(data, asset)
	if asset.Name() != "" {
		path += fmt.Sprintf(" %q", asset.Name())
	}
	return path
}

// readItems reads each item of a list, naming the item that fails by its path in the list.
func readItems[T any, P interface {
	*T
	json.Unmarshaler
}](name string, raws []json.RawMessage) ([]P, error) {
	items := make([]P, len(raws))
	for i, raw := range raws {
		items[i] = new(T)
		if err := items[i].UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", name, i, err)
		}
	}
	return items, nil
}

// resolve checks that nothing is declared twice and that everything campaigns and triggers reference is in the
// export, adding what RapidPro would create on import.
func (e *Export) resolve(declaresFields bool) error {
	flowIndex, err := index(e.Flows, func(f *Flow) assets.FlowUUID { return f.UUID }, func(first, second int) error {
		return fmt.Errorf("flows[%d] %q: UUID %s is also used by flows[%d] %q", second, e.Flows[second].Name, e.Flows[second].UUID, first, e.Flows[first].Name)
	})
	if err != nil {
		return err
	}
	fieldIndex, err := index(e.Fields, func(f *Field) string { return f.Key }, func(first, second int) error {
		return fmt.Errorf("fields[%d]: key '%s' is also used by fields[%d]", second, e.Fields[second].Key, first)
	})
	if err != nil {
		return err
	}
	groupIndex, err := index(e.Groups, func(g *Group) assets.GroupUUID { return g.UUID }, func(first, second int) error {
		return fmt.Errorf("groups[%d]: UUID %s is also used by groups[%d]", second, e.Groups[second].UUID, first)
	})
	if err != nil {
		return err
	}
	if _, err := index(e.Campaigns, func(c *Campaign) assets.CampaignUUID { return c.UUID }, func(first, second int) error {
		return fmt.Errorf("campaigns[%d]: UUID %s is also used by campaigns[%d]", second, e.Campaigns[second].UUID, first)
	}); err != nil {
		return err
	}

	addGroup := func(ref *assets.GroupReference) {
		if _, declared := groupIndex[ref.UUID]; !declared {
			groupIndex[ref.UUID] = len(e.Groups)
			e.Groups = append(e.Groups, &Group{UUID: ref.UUID, Name: ref.Name})
		}
	}

	for i, campaign := range e.Campaigns {
		addGroup(campaign.Group)

		for j, event := range campaign.Events {
			path := fmt.Sprintf("campaigns[%d]: events[%d]", i, j)

			if event.Flow != nil {
				if _, exists := flowIndex[event.Flow.UUID]; !exists {
					return fmt.Errorf("%s: %s isn't in the export", path, event.Flow)
				}
			}
			if err := e.resolveRelativeTo(event.RelativeTo, fieldIndex, declaresFields); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
	}

	for i, trigger := range e.Triggers {
		if _, exists := flowIndex[trigger.Flow.UUID]; !exists {
			return fmt.Errorf("triggers[%d]: %s isn't in the export", i, trigger.Flow)
		}
		for _, group := range trigger.Groups {
			addGroup(group)
		}
		for _, group := range trigger.ExcludeGroups {
			addGroup(group)
		}
	}
	return nil
}

// resolveRelativeTo checks the field a campaign event is relative to, which must be a datetime field or a system
// field. Exports without a list of fields only name it in the event, and RapidPro creates it when importing them.
func (e *Export) resolveRelativeTo(ref *assets.FieldReference, fieldIndex map[string]int, declaresFields bool) error {
	if systemFields[ref.Key] {
		return nil
	}
	if i, declared := fieldIndex[ref.Key]; declared {
		if e.Fields[i].Type != assets.FieldTypeDatetime {
			return fmt.Errorf("relative_to field '%s' has type %s, not %s", ref.Key, e.Fields[i].Type, assets.FieldTypeDatetime)
		}
		return nil
	}
	if declaresFields {
		return fmt.Errorf("relative_to field '%s' isn't in the export", ref.Key)
	}
	if err := checkFieldKey(ref.Key); err != nil {
		return fmt.Errorf("relative_to %w", err)
	}

	fieldIndex[ref.Key] = len(e.Fields)
	e.Fields = append(e.Fields, &Field{Key: ref.Key, Name: ref.Name, Type: assets.FieldTypeDatetime})
	return nil
}

// index maps the keys of items to their positions, failing on the first key that two items share.
func index[T any, K comparable](items []T, key func(T) K, duplicate func(first, second int) error) (map[K]int, error) {
	positions := make(map[K]int, len(items))
	for i, item := range items {
		k := key(item)
		if first, seen := positions[k]; seen {
			return nil, duplicate(first, i)
		}
		positions[k] = i
	}
	return positions, nil
}

// MarshalJSON marshals this export in the current RapidPro export format, which Read reads back to an equal export
// but for its version.
func (e *Export) MarshalJSON() ([]byte, error) {
	return jsonx.Marshal(&struct {
		Version   string      `json:"version"`
		Site      string      `json:"site,omitempty"`
		Flows     []*Flow     `json:"flows"`
		Campaigns []*Campaign `json:"campaigns"`
		Triggers  []*Trigger  `json:"triggers"`
		Fields    []*Field    `json:"fields"`
		Groups    []*Group    `json:"groups"`
	}{CurrentVersion, e.Site, e.Flows, e.Campaigns, e.Triggers, e.Fields, e.Groups})
}
