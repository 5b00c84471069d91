package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/utils"

	"github.com/optout-dev/optout/internal/strictjson"
)

// decode unmarshals and validates like goflow's utils.UnmarshalAndValidate, but describes a value of the wrong JSON
// type by its property and the JSON type expected, since Go type names mean nothing to whoever has to fix the export.
func decode(data []byte, v any) error {
	if err := jsonx.Unmarshal(data, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return err
		}
		if typeErr.Field == "" {
			return fmt.Errorf("must be %s, not %s", strictjson.Kind(typeErr.Type), typeErr.Value)
		}
		return fmt.Errorf("field '%s' must be %s, not %s", typeErr.Field, strictjson.Kind(typeErr.Type), typeErr.Value)
	}
	return utils.Validate(v)
}

// checkOneOf checks that the named property has one of the allowed values.
func checkOneOf[T ~string](property string, value T, allowed ...T) error {
	if slices.Contains(allowed, value) {
		return nil
	}
	if value == "" {
		return fmt.Errorf("field '%s' is required", property)
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return fmt.Errorf("field '%s' must be one of %s, not '%s'", property, strings.Join(names, ", "), value)
}
