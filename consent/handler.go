package consent

import (
	"github.com/nyaruka/goflow/flows"
)

// ChangedHandler is implemented by an asset source whose host handles the Changed event. goflow hosts apply each
// event of a sprint through a handler for its type, and mailroom panics on a type it has no handler for, losing the
// message that caused it; so the plugin's actions log the event only for a host that says it handles it. Every host
// still gets the field and group changes and the reply, which are goflow's own events.
type ChangedHandler interface {
	HandlesConsentChanged() bool
}

// HostHandlesChanged returns whether the host of the session assets handles the Changed event.
func HostHandlesChanged(sa flows.SessionAssets) bool {
	h, ok := sa.Source().(ChangedHandler)
	return ok && h.HandlesConsentChanged()
}
