package export

import (
	"fmt"
	"regexp"

	"github.com/nyaruka/goflow/assets"
)

// Field is a contact field declared by an export. Exports don't give fields UUIDs: a field is known by its key.
type Field struct {
	Key  string           `json:"key"  validate:"required"`
	Name string           `json:"name"`
	Type assets.FieldType `json:"type" validate:"required"`
}

// UnmarshalJSON reads a field, which must have a key that RapidPro would accept and one of goflow's field types.
func (f *Field) UnmarshalJSON(data []byte) error {
	type field Field // so that decoding doesn't come back here

	if err := decode(data, (*field)(f)); err != nil {
		return err
	}
	if err := checkFieldKey(f.Key); err != nil {
		return err
	}

	// older RapidPro versions gave value types as single letters
	if t, isLegacy := legacyFieldTypes[string(f.Type)]; isLegacy {
		f.Type = t
	}
	return checkOneOf("type", f.Type, assets.FieldTypeText, assets.FieldTypeNumber, assets.FieldTypeDatetime,
		assets.FieldTypeState, assets.FieldTypeDistrict, assets.FieldTypeWard)
}

var legacyFieldTypes = map[string]assets.FieldType{
	"T": assets.FieldTypeText,
	"N": assets.FieldTypeNumber,
	"D": assets.FieldTypeDatetime,
	"S": assets.FieldTypeState,
	"I": assets.FieldTypeDistrict,
	"W": assets.FieldTypeWard,
}

// the rules RapidPro applies to the keys of the fields it creates, including those it creates on import
const maxFieldKeyLength = 36

var (
	fieldKeyRegex     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	reservedFieldKeys = map[string]bool{"has": true, "is": true, "fields": true, "urns": true, "created_on": true, "last_seen_on": true}
)

// systemFields are the contact properties that campaign events can be relative to as though they were fields.
var systemFields = map[string]bool{"created_on": true, "last_seen_on": true}

func checkFieldKey(key string) error {
	if !fieldKeyRegex.MatchString(key) {
		return fmt.Errorf("key '%s' isn't valid: must be lowercase letters, digits and underscores, starting with a letter", key)
	}
	if len(key) > maxFieldKeyLength {
		return fmt.Errorf("key '%s' is longer than %d characters", key, maxFieldKeyLength)
	}
	if reservedFieldKeys[key] {
		return fmt.Errorf("key '%s' is reserved", key)
	}
	return nil
}

// NewTextField is a text field with the key, named after it as RapidPro names the fields it creates on import (e.g.
// first_name as First Name), or an error when RapidPro wouldn't accept the key.
func NewTextField(key string) (*Field, error) {
	if err := checkFieldKey(key); err != nil {
		return nil, err
	}
	return &Field{Key: key, Name: unsnakify(key), Type: assets.FieldTypeText}, nil
}
