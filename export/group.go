package export

import (
	"bytes"
	"slices"
	"strings"

	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
)

// Group is a contact group declared by an export. Query is empty for a group whose members are added and removed
// by hand or by flows, rather than by matching a query.
type Group struct {
	UUID  assets.GroupUUID `json:"uuid"            validate:"required,uuid"`
	Name  string           `json:"name"            validate:"required"`
	Query string           `json:"query,omitempty"`
}

// UnmarshalJSON reads a group, which must have a UUID and a name, and whose query may be null.
func (g *Group) UnmarshalJSON(data []byte) error {
	type group Group // so that decoding doesn't come back here

	return decode(data, (*group)(g))
}

// groupReference is how campaigns and triggers reference groups: RapidPro finds the group by UUID when importing an
// export from the same site, and by name otherwise, so both are required.
type groupReference struct {
	UUID assets.GroupUUID `json:"uuid" validate:"required,uuid"`
	Name string           `json:"name" validate:"required"`
}

func readGroupReferences(refs []*groupReference) []*assets.GroupReference {
	read := make([]*assets.GroupReference, len(refs))
	for i, ref := range refs {
		read[i] = assets.NewGroupReference(ref.UUID, ref.Name)
	}
	return read
}

func writeGroupReference(ref *assets.GroupReference) *groupReference {
	if ref == nil {
		return nil
	}
	return &groupReference{UUID: ref.UUID, Name: ref.Name}
}

func writeGroupReferences(refs []*assets.GroupReference) []*groupReference {
	written := make([]*groupReference, len(refs))
	for i, ref := range refs {
		written[i] = writeGroupReference(ref)
	}
	return written
}

// MatchGroups makes the export use the workspace's own groups where it has groups of the same names, as RapidPro's
// import does: a group of the export named as one of existing (ignoring case, as goflow finds groups by name) is
// dropped, and its UUID replaced by the existing group's wherever the export uses it, in flow definitions,
// campaigns and triggers. Otherwise a workspace would end with two groups of one name, of which flows would find
// one and broadcasts another. It returns the UUIDs it replaced, and by what.
func (e *Export) MatchGroups(existing []*flows.Group) map[assets.GroupUUID]assets.GroupUUID {
	byName := make(map[string]assets.GroupUUID, len(existing))
	for _, g := range existing {
		byName[strings.ToLower(g.Name())] = g.UUID()
	}
	remap := map[assets.GroupUUID]assets.GroupUUID{}
	e.Groups = slices.DeleteFunc(e.Groups, func(g *Group) bool {
		u, ok := byName[strings.ToLower(g.Name)]
		if ok && u != g.UUID {
			remap[g.UUID] = u
		}
		return ok
	})
	if len(remap) == 0 {
		return remap
	}

	for _, f := range e.Flows {
		for from, to := range remap {
			f.Definition = bytes.ReplaceAll(f.Definition, []byte(from), []byte(to))
		}
	}
	replace := func(refs ...*assets.GroupReference) {
		for _, ref := range refs {
			if ref == nil {
				continue
			}
			if to, ok := remap[ref.UUID]; ok {
				ref.UUID = to
			}
		}
	}
	for _, c := range e.Campaigns {
		replace(c.Group)
	}
	for _, t := range e.Triggers {
		replace(t.Groups...)
		replace(t.ExcludeGroups...)
	}
	return remap
}
