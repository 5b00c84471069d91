package export

import (
	"github.com/nyaruka/goflow/assets"
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
