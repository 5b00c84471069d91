package config

import (
	"github.com/nyaruka/goflow/flows"
)

// Provider is implemented by an asset source that knows its workspace's configuration. goflow hands actions and
// routers the session's assets and nothing else of the host's, so this is how a host's configuration reaches
// them: a host whose source implements Provider (mailroom's org assets could) needs no other wiring.
type Provider interface {
	OptoutConfig() *Config
}

// For returns the configuration of the session's workspace, or Default when its asset source has none.
func For(sa flows.SessionAssets) *Config {
	if p, ok := sa.Source().(Provider); ok {
		if cfg := p.OptoutConfig(); cfg != nil {
			return cfg
		}
	}
	return Default
}
