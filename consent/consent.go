// Package consent is the vocabulary of a contact's opt-out state: the contact fields that hold it, the statuses
// they take, and the event the plugin logs when the state changes. The actions write it, the engine reads it to
// decide broadcasts, and a host persists it and turns the event into the business's webhook.
package consent

import (
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/keywords"
)

// Contact fields the plugin keeps the state in. They are ordinary goflow fields so that any host stores, shows and
// queries them like its other fields, and flows can branch on them.
const (
	StatusField    = "optout_status"
	ChangedOnField = "optout_changed_on"
)

// MarketingOptInField is the field Weni's mailroom reads: it refuses MARKETING templates to a contact whose value is
// false, no, 0 or n. A workspace configured with marketing_opt_in keeps it too, so that Weni blocks those templates
// natively.
const MarketingOptInField = "marketing_opt_in"

// Status is a contact's opt-out state.
type Status string

// The three states of a contact. Undefined is a contact who never said either way: the grey "undefined" of
// contact-center products, which may receive messages like an opted-in one.
const (
	Undefined Status = ""
	OptedIn   Status = "opted_in"
	OptedOut  Status = "opted_out"
)

// StatusFor returns the status that the given intent leads to, or Undefined for keywords.None.
func StatusFor(intent keywords.Intent) Status {
	switch intent {
	case keywords.OptOut:
		return OptedOut
	case keywords.OptIn:
		return OptedIn
	}
	return Undefined
}

// ParseStatus reads a status as stored in the status field. Anything but the two known values reads as Undefined
// rather than failing, because the field is an ordinary text field that people can edit by hand.
func ParseStatus(s string) Status {
	switch Status(s) {
	case OptedIn, OptedOut:
		return Status(s)
	}
	return Undefined
}

// StatusOf reads the contact's status from its status field.
func StatusOf(sa flows.SessionAssets, contact *flows.Contact) Status {
	field := sa.Fields().Get(StatusField)
	if field == nil {
		return Undefined
	}
	value := contact.Fields().Get(field)
	if value == nil || value.Text == nil {
		return Undefined
	}
	return ParseStatus(value.Text.Native())
}
