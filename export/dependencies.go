package export

import (
	"fmt"
	"strings"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/engine"
	"github.com/nyaruka/goflow/flows/inspect"
)

// Effect is what importing an export does about one of its dependencies.
type Effect string

const (
	// EffectCreate is for fields and groups, which import creates as RapidPro does: a field as text, named after its
	// key if no flow names it, and a group without a query.
	EffectCreate Effect = "create"

	// EffectWarn is for the assets import can't create: channels, templates, labels, globals and the like, which
	// exports never carry. The import goes ahead, and when a flow runs, the step that uses one logs an error and the
	// flow carries on, as goflow runs it.
	EffectWarn Effect = "warn"

	// EffectRefuse is for what the import mustn't go ahead without: a flow that a flow enters or starts, which goflow
	// can't carry on without, and a field or group that can't be created.
	EffectRefuse Effect = "refuse"
)

// Dependency is an asset that flows of an export use and that neither the export nor the workspace has.
type Dependency struct {
	Type     string                  // goflow's type of asset: field, group, flow, channel, template, label, global...
	Identity string                  // its UUID, or its key for a field or global
	Name     string                  // as the flows name it, which they don't when they only use it in expressions
	Flows    []*assets.FlowReference // the flows of the export that use it, in the export's order
	Effect   Effect
	Problem  string // why a field or group can't be created
}

// String describes the dependency by its type, name and identity, e.g. group "Customers" 83452c2e-...
func (d *Dependency) String() string {
	if d.Name == "" {
		return fmt.Sprintf("%s %s", d.Type, d.Identity)
	}
	return fmt.Sprintf("%s %q %s", d.Type, d.Name, d.Identity)
}

// Dependencies returns the assets that flows of this export use and that neither it nor the workspace has, each once
// in the order the flows first use them, as goflow's flow inspection finds them, with what importing the export does
// about each. Workspace is the assets of the workspace it's imported into, or nil to check the export on its own.
// Assets are found as goflow finds them when flows run: by UUID, or by key for fields and globals.
func (e *Export) Dependencies(workspace flows.SessionAssets) ([]*Dependency, error) {
	source, err := e.Source(nil)
	if err != nil {
		return nil, err
	}
	sa, err := engine.NewSessionAssets(envs.NewBuilder().Build(), source, nil)
	if err != nil {
		return nil, err
	}

	deps := make([]*Dependency, 0)
	seen := make(map[[2]string]*Dependency)
	for _, f := range e.Flows {
		flow, err := sa.Flows().Get(f.UUID)
		if err != nil {
			return nil, err
		}
		for _, used := range flow.Inspect(sa).Dependencies {
			ref := used.Reference()
			if !used.Missing() || workspace != nil && inspect.CheckReference(workspace, ref) {
				continue
			}

			// a field used in an expression comes without the name that another use may give it
			key := [2]string{ref.Type(), ref.Identity()}
			if d, isSeen := seen[key]; isSeen {
				d.Flows = append(d.Flows, flow.Reference(false))
				if d.Name == "" {
					d.Name = nameOf(ref)
				}
				continue
			}
			seen[key] = &Dependency{Type: ref.Type(), Identity: ref.Identity(), Name: nameOf(ref), Flows: []*assets.FlowReference{flow.Reference(false)}}
			deps = append(deps, seen[key])
		}
	}

	for _, d := range deps {
		d.Effect, d.Problem = effectOf(d)
	}
	return deps, nil
}

// nameOf returns the name a reference gives its asset. Every type of reference has one, but not through an interface,
// so it's read from the JSON that goflow describes dependencies with.
func nameOf(ref assets.Reference) string {
	var named struct {
		Name string `json:"name"`
	}
	jsonx.Unmarshal(jsonx.MustMarshal(ref), &named)
	return named.Name
}

func effectOf(d *Dependency) (Effect, string) {
	switch d.Type {
	case "field":
		if err := checkFieldKey(d.Identity); err != nil {
			return EffectRefuse, err.Error()
		}
		return EffectCreate, ""
	case "group":
		if d.Name == "" {
			return EffectRefuse, "it has no name to create it with"
		}
		return EffectCreate, ""
	case "flow":
		return EffectRefuse, ""
	default:
		return EffectWarn, ""
	}
}

// AddDependencies adds the fields and groups among deps that import creates to this export, so that importing it
// creates them.
func (e *Export) AddDependencies(deps []*Dependency) {
	for _, d := range deps {
		if d.Effect != EffectCreate {
			continue
		}
		switch d.Type {
		case "field":
			name := d.Name
			if name == "" {
				name = unsnakify(d.Identity)
			}
			e.Fields = append(e.Fields, &Field{Key: d.Identity, Name: name, Type: assets.FieldTypeText})
		case "group":
			e.Groups = append(e.Groups, &Group{UUID: assets.GroupUUID(d.Identity), Name: d.Name})
		}
	}
}

// unsnakify names a field after its key as RapidPro does, e.g. first_name as First Name. Keys are checked first, so
// they are lowercase ASCII.
func unsnakify(key string) string {
	words := strings.Split(key, "_")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}
