// Package strictjson decodes JSON that people write by hand (configuration files, API request bodies) strictly,
// and words its errors for them: unknown fields are refused rather than ignored, because a misspelt key that is
// silently dropped is a setting that silently does not apply, and every error names the field it is about.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/optout-dev/optout/internal/quote"
)

// Unmarshal decodes data into v, refusing unknown fields and trailing data.
func Unmarshal(data []byte, v any) error {
	return Decode(bytes.NewReader(data), v)
}

// Decode decodes one JSON value from r into v, refusing unknown fields and trailing data. An error reading r is
// returned as it is, so that the caller can tell it from bad JSON (a body over its limit, say).
func Decode(r io.Reader, v any) error {
	src := &readErrors{r: r}
	dec := json.NewDecoder(src)
	dec.DisallowUnknownFields()

	if err := dec.Decode(v); err != nil {
		if src.err != nil {
			return src.err
		}
		return explain(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if src.err != nil {
			return src.err
		}
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// readErrors remembers the error its reader failed with, which the JSON decoder words as its own.
type readErrors struct {
	r   io.Reader
	err error
}

func (r *readErrors) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func explain(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError

	switch {
	case errors.Is(err, io.EOF):
		return errors.New("empty input: expected a JSON value")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: unexpected end of input")
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("malformed JSON at byte %d: %s", syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: "))
	case errors.As(err, &typeErr):
		// encoding/json leaves map keys out of the path ("replies.enabled" for replies.opt_out.enabled), which
		// still points at the setting
		field := typeErr.Field
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("%s: must be %s, not %s", field, Kind(typeErr.Type), typeErr.Value)
	}

	// the decoder words unknown fields as `json: unknown field "x"`, which names the field, however long it is
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if field, ok := strings.CutPrefix(msg, "unknown field "); ok {
		if name, err := strconv.Unquote(field); err == nil {
			return fmt.Errorf("unknown field %s", quote.Q(name))
		}
	}
	return errors.New(msg)
}

// Kind names a Go type the way someone writing JSON thinks of it, for errors about values of the wrong type.
func Kind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	if t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return Kind(t.Elem())
	}
	return "a " + t.String()
}

var textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()
