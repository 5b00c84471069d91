package consent

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nyaruka/gocommon/dates"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/modifiers"

	"github.com/optout-dev/optout/config"
)

// The fields the state is kept in, as references for dependencies and errors.
var (
	StatusFieldRef         = assets.NewFieldReference(StatusField, "Opt-Out Status")
	ChangedOnFieldRef      = assets.NewFieldReference(ChangedOnField, "Opt-Out Changed On")
	MarketingOptInFieldRef = assets.NewFieldReference(MarketingOptInField, "Marketing Opt-In")
)

// timeLayout is how the changed-on field is written: goflow parses ISO 8601 whatever the workspace's date format.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// Apply moves the contact to the status through goflow modifiers, logging their events, and returns the status it
// had before. The fields change only when the status does, so that repeating a keyword changes nothing; group
// membership is applied either way, which repairs a contact whose groups were edited by hand. A missing field or
// group is logged as an error event and the rest still applies. The plugin's actions and a host's own consent
// changes (an API call, an import) both go through here, so they change contacts alike.
func Apply(ctx context.Context, eng flows.Engine, env envs.Environment, sa flows.SessionAssets, contact *flows.Contact, target Status, log flows.EventLogger) (Status, error) {
	previous := StatusOf(sa, contact)

	apply := func(mod flows.Modifier) error {
		_, err := modifiers.Apply(ctx, eng, env, sa, contact, mod, log)
		return err
	}

	setField := func(ref *assets.FieldReference, value string) error {
		field := sa.Fields().Get(ref.Key)
		if field == nil {
			log(events.NewDependencyError(ref))
			return nil
		}
		return apply(modifiers.NewField(field, value))
	}

	cfg := config.For(sa)
	if previous != target {
		if err := setField(StatusFieldRef, string(target)); err != nil {
			return previous, err
		}
		if err := setField(ChangedOnFieldRef, dates.Now().UTC().Format(timeLayout)); err != nil {
			return previous, err
		}
		if cfg.MarketingOptIn && target != Undefined {
			if err := setField(MarketingOptInFieldRef, strconv.FormatBool(target == OptedIn)); err != nil {
				return previous, err
			}
		}
	}

	name := cfg.Group
	group := sa.Groups().FindByName(name)
	if group == nil {
		log(events.NewError(fmt.Sprintf("No such group with name '%s'", name), events.ErrorCodeDependencyMissing))
		return previous, nil
	}
	modification := modifiers.GroupsRemove
	if target == OptedOut {
		modification = modifiers.GroupsAdd
	}
	return previous, apply(modifiers.NewGroups([]*flows.Group{group}, modification))
}
