// Package engine puts the plugin to work in a goflow host: it registers the plugin's types with goflow, builds a
// workspace's session assets, catches keywords before any flow runs (the interceptor), and decides which broadcast
// messages may reach a contact.
package engine

import (
	"maps"

	goactions "github.com/nyaruka/goflow/flows/actions"
	goengine "github.com/nyaruka/goflow/flows/engine"
	gorouters "github.com/nyaruka/goflow/flows/routers"

	"github.com/optout-dev/optout/actions"
	"github.com/optout-dev/optout/routers"
)

// The plugin's types are registered here and nowhere else. goflow reads every flow definition, export and session
// through these two registries, so from the moment this package is imported any flow in the process may use them.
func init() {
	maps.Copy(goactions.RegisteredTypes(), actions.RegisteredTypes())
	maps.Copy(gorouters.RegisteredTypes(), routers.RegisteredTypes())
}

// NewBuilder returns goflow's engine builder. It is here so that a host which builds its engine through this package
// cannot forget the import that registers the plugin; the host adds its own services (HTTP client, webhooks, email)
// to the builder as usual.
func NewBuilder() *goengine.Builder {
	return goengine.NewBuilder()
}
