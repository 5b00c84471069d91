package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/assets/static"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	goengine "github.com/nyaruka/goflow/flows/engine"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	exports "github.com/optout-dev/optout/flows"
)

// systemFlow is the flow of the plugin export that the interceptor starts.
var systemFlow = loadSystemFlow()

// SystemFlow returns a reference to the flow the interceptor runs.
func SystemFlow() *assets.FlowReference {
	return assets.NewFlowReference(systemFlow.UUID(), systemFlow.Name())
}

// NewSessionAssets builds a workspace's session assets: the host's source, with the system flow and the workspace's
// configuration layered on top so that neither has to be stored by the host. Build it once per workspace and
// configuration and share it: goflow session assets are safe for concurrent use.
func NewSessionAssets(env envs.Environment, src assets.Source, cfg *config.Config) (flows.SessionAssets, error) {
	return goengine.NewSessionAssets(env, &source{Source: src, cfg: cfg}, nil)
}

// NewEnvironment returns the environment of a workspace with the configuration: its languages, the default one
// first, which is how goflow tells its default language.
func NewEnvironment(cfg *config.Config) envs.Environment {
	langs := []i18n.Language{cfg.Keywords.DefaultLanguage()}
	for _, l := range cfg.Keywords.Languages() {
		if l != langs[0] {
			langs = append(langs, l)
		}
	}
	e := cfg.Environment
	return envs.NewBuilder().
		WithAllowedLanguages(langs...).
		WithTimezone(e.Timezone).
		WithDateFormat(e.DateFormat).
		WithTimeFormat(e.TimeFormat).
		WithDefaultCountry(e.Country).
		WithRedactionPolicy(e.RedactionPolicy).
		Build()
}

type source struct {
	assets.Source
	cfg *config.Config
}

func (s *source) FlowByUUID(uuid assets.FlowUUID) (assets.Flow, error) {
	if uuid == systemFlow.UUID() {
		return systemFlow, nil
	}
	return s.Source.FlowByUUID(uuid)
}

func (s *source) OptoutConfig() *config.Config { return s.cfg }

// HandlesConsentChanged says that the hosts of these assets handle the consent event, as README's embedding asks.
func (s *source) HandlesConsentChanged() bool { return true }

var (
	_ config.Provider        = (*source)(nil)
	_ consent.ChangedHandler = (*source)(nil)
)

// CheckAssets returns an error naming what the workspace lacks for the plugin to record a change: the two status
// fields and the opted-out group. Without them an opt-out would be answered but not remembered, which is worse than
// failing.
func CheckAssets(sa flows.SessionAssets) error {
	var missing []string
	for _, key := range []string{consent.StatusField, consent.ChangedOnField} {
		if sa.Fields().Get(key) == nil {
			missing = append(missing, fmt.Sprintf("field %q", key))
		}
	}
	group := config.For(sa).Group
	if sa.Groups().FindByName(group) == nil {
		missing = append(missing, fmt.Sprintf("group %q", group))
	}
	if len(missing) > 0 {
		return fmt.Errorf("workspace has no %s: import flows/%s or create them", strings.Join(missing, " and no "), exports.Plugin)
	}
	return nil
}

func loadSystemFlow() assets.Flow {
	data, err := exports.Exports.ReadFile(exports.Plugin)
	if err != nil {
		panic(err)
	}
	var export struct {
		Flows []*static.Flow `json:"flows"`
	}
	if err := json.Unmarshal(data, &export); err != nil {
		panic(fmt.Sprintf("flows/%s: %s", exports.Plugin, err))
	}
	for _, f := range export.Flows {
		if f.UUID() == exports.SystemFlowUUID {
			return f
		}
	}
	panic(fmt.Sprintf("flows/%s has no flow %s", exports.Plugin, exports.SystemFlowUUID))
}
