package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/routers"
)

// OptoutConfigKey is the key of the org config that holds an org's opt-out settings:
//
//	{"optout": {"flow": "<flow uuid>", "resthook": "optout", "config": {<the plugin's configuration document>}}}
//
// All of it is optional: an org that imports flows/optout.json gets the plugin with its defaults.
const OptoutConfigKey = "optout"

// OptoutDefaultResthook is the slug of the resthook that consent changes are notified on, unless the org names another.
const OptoutDefaultResthook = "optout"

// OptoutSettings are an org's settings for the opt-out plugin.
type OptoutSettings struct {
	Config   *config.Config // the plugin's configuration: the org's document over the defaults
	Flow     *Flow          // the org's copy of flows/optout.json; nil leaves the org alone: no keywords, no filtering
	Resthook string         // slug of the resthook consent changes are notified on
}

type optoutDocument struct {
	Flow     assets.FlowUUID `json:"flow"`
	Resthook string          `json:"resthook"`
	Config   json.RawMessage `json:"config"`
}

// the settings of each org assets, read once and dropped with them; keyed weakly so that an org assets replaced in the
// cache, or still held by a long task, doesn't make another org assets read the settings again
var optoutSettings sync.Map // weak.Pointer[OrgAssets] -> *optoutEntry

type optoutEntry struct {
	settings atomic.Pointer[OptoutSettings]
	loading  sync.Mutex
}

// Optout returns the org's opt-out settings. They are read when first asked for, once per org assets, so that a
// change to the org's config, flows or resthooks applies when mailroom next reloads the org's assets. The error is a
// database's: a mistake in the settings is logged, and the defaults stand in for what is wrong, so that a typo never
// stops an opt-out from being caught.
func (a *OrgAssets) Optout() (*OptoutSettings, error) {
	key := weak.Make(a)
	v, ok := optoutSettings.Load(key)
	if !ok {
		var loaded bool
		if v, loaded = optoutSettings.LoadOrStore(key, &optoutEntry{}); !loaded {
			goruntime.AddCleanup(a, func(k weak.Pointer[OrgAssets]) { optoutSettings.Delete(k) }, key)
		}
	}
	e := v.(*optoutEntry)
	if s := e.settings.Load(); s != nil {
		return s, nil
	}

	e.loading.Lock()
	defer e.loading.Unlock()
	if s := e.settings.Load(); s != nil {
		return s, nil
	}
	s, err := a.loadOptout()
	if err != nil {
		return nil, fmt.Errorf("error loading opt-out settings: %w", err)
	}
	e.settings.Store(s)
	return s, nil
}

// OptoutConfig hands the org's configuration to the plugin's actions and router, which find it through the session
// assets' source: these org assets. Without it they use the defaults.
func (a *OrgAssets) OptoutConfig() *config.Config {
	s, err := a.Optout()
	if err != nil {
		slog.Error("using the default opt-out configuration", "org", a.orgID, "error", err)
		return nil
	}
	return s.Config
}

// HandlesConsentChanged says that mailroom handles the plugin's consent_changed event, so its actions log it.
func (a *OrgAssets) HandlesConsentChanged() bool { return true }

var (
	_ config.Provider        = (*OrgAssets)(nil)
	_ consent.ChangedHandler = (*OrgAssets)(nil)
)

func (a *OrgAssets) loadOptout() (*OptoutSettings, error) {
	log := slog.With("org", a.orgID)
	s := &OptoutSettings{Config: config.Default, Resthook: OptoutDefaultResthook}

	doc, err := a.org.optoutDocument()
	if err != nil {
		log.Error("ignoring invalid opt-out settings", "error", err)
		doc = &optoutDocument{}
	}
	if doc.Resthook != "" {
		s.Resthook = doc.Resthook
	}
	if doc.Config != nil {
		if s.Config, err = config.Parse(doc.Config); err != nil {
			log.Error("ignoring invalid opt-out configuration, using the defaults", "error", fmt.Errorf("%s.config: %w", OptoutConfigKey, err))
			s.Config = config.Default
		}
	}
	if s.Flow, err = a.optoutFlow(log, doc.Flow); err != nil {
		return nil, err
	}
	return s, nil
}

// optoutDocument reads the org's opt-out settings from its config.
func (o *Org) optoutDocument() (*optoutDocument, error) {
	doc := &optoutDocument{}
	v, ok := o.o.Config[OptoutConfigKey]
	if !ok {
		return doc, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", OptoutConfigKey, err)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(doc); err != nil {
		return nil, fmt.Errorf("%s: %w (want an object of flow, resthook and config)", OptoutConfigKey, err)
	}
	if doc.Flow != "" && !uuids.Is(string(doc.Flow)) {
		return nil, fmt.Errorf("%s.flow: %q is not a UUID", OptoutConfigKey, doc.Flow)
	}
	return doc, nil
}

// optoutFlow finds the org's copy of flows/optout.json: the flow the settings name, else the flow that kept the
// plugin's UUID on import, else the flow with its name that routes on the plugin's keyword router, as RapidPro may give
// an imported flow a UUID of its own and an org may have a flow of that name of its own. None is no error: the org
// doesn't use the plugin.
func (a *OrgAssets) optoutFlow(log *slog.Logger, configured assets.FlowUUID) (*Flow, error) {
	if configured != "" {
		f, err := a.FlowByUUID(configured)
		if errors.Is(err, ErrNotFound) {
			log.Error("ignoring opt-out flow that doesn't exist, keywords aren't caught", "error", fmt.Errorf("%s.flow: the org has no flow %s", OptoutConfigKey, configured))
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		return f.(*Flow), nil
	}

	system := engine.SystemFlow()
	if f, err := a.FlowByUUID(system.UUID); err == nil {
		return f.(*Flow), nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}

	f, err := a.FlowByName(system.Name)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	flow, err := a.sessionAssets.Flows().Get(f.UUID())
	if err != nil {
		log.Error("ignoring unreadable flow named like the opt-out flow", "flow", f.UUID(), "error", err)
		return nil, nil
	}
	if !routesOnKeywords(flow) {
		return nil, nil
	}
	return f.(*Flow), nil
}

func routesOnKeywords(flow flows.Flow) bool {
	for _, node := range flow.Nodes() {
		if r := node.Router(); r != nil && r.Type() == routers.TypeOptOut {
			return true
		}
	}
	return false
}
