package service

import (
	"errors"
	"fmt"
)

// Kind is what went wrong with a request, which the API turns into a status code.
type Kind int

// The kinds of error a request can meet.
const (
	Invalid       Kind = iota + 1 // the request is malformed: 400
	Unprocessable                 // the request is well formed but breaks a rule: 422
	NotFound                      // 404
	Conflict                      // 409
	Unavailable                   // a store or dependency can't be reached: 503, retry later
)

// Error is an error a client can act on: what is wrong, with the field it is about when there is one.
type Error struct {
	Kind  Kind
	Field string // the field of the request at fault, empty when the problem isn't one field's
	Err   error
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func newError(kind Kind, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the kind of err, or 0 for an error of the service itself.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}
