// Package routers holds the plugin's goflow router type: the keyword router that sends a contact down an
// "Opted Out", "Opted In" or "Other" path depending on what it said.
package routers

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nyaruka/gocommon/dates"
	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/excellent/types"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/routers"
	"github.com/nyaruka/goflow/flows/routers/waits"
	"github.com/nyaruka/goflow/utils"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/internal/inputtext"
	"github.com/optout-dev/optout/keywords"
)

var registeredTypes = map[string]func() flows.Router{}

func registerType(name string, initFunc func() flows.Router) {
	registeredTypes[name] = initFunc
}

// RegisteredTypes returns the plugin's router types by name, for registering with goflow.
func RegisteredTypes() map[string]func() flows.Router {
	return registeredTypes
}

func init() {
	registerType(TypeOptOut, func() flows.Router { return &OptOut{} })
}

// TypeOptOut is the type of the keyword router.
const TypeOptOut string = "optout"

// inputText is the expression of the text of the contact's message.
const inputText = "@input.text"

// OptOut routes on whether the operand, usually the contact's message, is an opt-out keyword, an opt-in keyword, or
// anything else, using the workspace's keyword catalog. The result it saves has the keyword as its value and the
// keyword's language and intent in its extra, so a flow can answer in the language the contact used.
//
//	{
//	  "type": "optout",
//	  "wait": {"type": "msg"},
//	  "result_name": "Opt Out",
//	  "operand": "@input.text",
//	  "categories": [
//	    {"uuid": "1b1d9e8f-…", "name": "Opted Out", "exit_uuid": "…"},
//	    {"uuid": "2c2e0f90-…", "name": "Opted In", "exit_uuid": "…"},
//	    {"uuid": "3d3f1a01-…", "name": "Other", "exit_uuid": "…"}
//	  ],
//	  "opt_out_category_uuid": "1b1d9e8f-…",
//	  "opt_in_category_uuid": "2c2e0f90-…",
//	  "other_category_uuid": "3d3f1a01-…"
//	}
type OptOut struct {
	wait       flows.Wait
	resultName string
	categories []flows.Category
	operand    string

	optOutCategory flows.CategoryUUID
	optInCategory  flows.CategoryUUID
	otherCategory  flows.CategoryUUID
}

// NewOptOut creates a new keyword router.
func NewOptOut(wait flows.Wait, resultName string, categories []flows.Category, operand string, optOut, optIn, other flows.CategoryUUID) *OptOut {
	return &OptOut{
		wait:           wait,
		resultName:     resultName,
		categories:     categories,
		operand:        operand,
		optOutCategory: optOut,
		optInCategory:  optIn,
		otherCategory:  other,
	}
}

func (r *OptOut) Type() string                 { return TypeOptOut }
func (r *OptOut) Wait() flows.Wait             { return r.wait }
func (r *OptOut) Categories() []flows.Category { return r.categories }
func (r *OptOut) ResultName() string           { return r.resultName }
func (r *OptOut) AllowTimeout() bool           { return r.wait != nil && r.wait.Timeout() != nil }

// Validate checks the router against its node's exits and its flow.
func (r *OptOut) Validate(flow flows.Flow, exits []flows.Exit) error {
	if len(r.categories) > flows.MaxCategoriesPerRouter {
		return fmt.Errorf("can't have more than %d categories (has %d)", flows.MaxCategoriesPerRouter, len(r.categories))
	}
	for _, c := range []struct {
		field string
		uuid  flows.CategoryUUID
	}{
		{"opt_out_category_uuid", r.optOutCategory},
		{"opt_in_category_uuid", r.optInCategory},
		{"other_category_uuid", r.otherCategory},
	} {
		if r.category(c.uuid) == nil {
			return fmt.Errorf("%s %s is not a valid category", c.field, c.uuid)
		}
	}
	if r.AllowTimeout() && r.category(r.wait.Timeout().CategoryUUID()) == nil {
		return fmt.Errorf("timeout category %s is not a valid category", r.wait.Timeout().CategoryUUID())
	}
	for _, c := range r.categories {
		if !hasExit(exits, c.ExitUUID()) {
			return fmt.Errorf("category exit %s is not a valid exit", c.ExitUUID())
		}
	}
	if r.wait != nil && !flow.Type().Allows(r.wait) {
		return fmt.Errorf("wait type '%s' is not allowed in a flow of type '%s'", r.wait.Type(), flow.Type())
	}
	return nil
}

// Route picks the category of what the contact said.
func (r *OptOut) Route(run flows.Run, step flows.Step, log flows.EventLogger) (flows.ExitUUID, string, error) {
	operand := r.evaluateOperand(run, log)
	m := config.For(run.Session().Assets()).Keywords.Match(operand, run.Contact().Language())

	categoryUUID, value := r.otherCategory, operand
	switch m.Intent {
	case keywords.OptOut:
		categoryUUID, value = r.optOutCategory, m.Keyword
	case keywords.OptIn:
		categoryUUID, value = r.optInCategory, m.Keyword
	}

	var extra json.RawMessage
	if m.Intent != keywords.None {
		extra = jsonx.MustMarshal(map[string]string{"intent": string(m.Intent), "language": string(m.Language)})
	}

	exit, err := r.routeTo(run, step, categoryUUID, value, operand, extra, log)
	return exit, operand, err
}

// evaluateOperand returns the operand as text. @input.text, the operand of nearly every keyword router and of the
// system flow's, is read from the input when there is one: the evaluator would parse it anew for every message and
// build the whole context of the run around it, which was a quarter of the allocations and half the memory of
// handling a keyword. Without an input the evaluator logs the error it does for any expression.
func (r *OptOut) evaluateOperand(run flows.Run, log flows.EventLogger) string {
	if r.operand == inputText {
		if text, ok := inputtext.Of(run.Session()); ok {
			return text
		}
	}

	value, _ := run.EvaluateTemplateValue(r.operand, log)
	if value == nil {
		return ""
	}
	text, xerr := types.ToXText(run.Session().MergedEnvironment(), value)
	if xerr != nil {
		log(events.NewRawError(xerr))
	}
	return text.Native()
}

// RouteTimeout routes to the timeout category of the wait.
func (r *OptOut) RouteTimeout(run flows.Run, step flows.Step, log flows.EventLogger) (flows.ExitUUID, error) {
	if !r.AllowTimeout() {
		return "", errors.New("can't call route timeout on router with no timeout")
	}
	return r.routeTo(run, step, r.wait.Timeout().CategoryUUID(), "", "", nil, log)
}

func (r *OptOut) routeTo(run flows.Run, step flows.Step, categoryUUID flows.CategoryUUID, value, input string, extra json.RawMessage, log flows.EventLogger) (flows.ExitUUID, error) {
	category := r.category(categoryUUID)
	if category == nil {
		return "", fmt.Errorf("category %s is not a valid category", categoryUUID)
	}

	if r.resultName != "" {
		localized, _ := run.GetText(uuids.UUID(category.UUID()), "name", "")
		result := flows.NewResult(r.resultName, value, category.Name(), localized, step.NodeUUID(), input, extra, dates.Now())
		if prev, changed := run.SetResult(result); changed {
			log(events.NewRunResultChanged(result, prev))
		}
	}
	return category.ExitUUID(), nil
}

// Inspect declares the result this router saves.
func (r *OptOut) Inspect(result func(*flows.ResultInfo), dependency func(assets.Reference)) {
	if r.resultName != "" {
		names := make([]string, len(r.categories))
		for i, c := range r.categories {
			names[i] = c.Name()
		}
		result(flows.NewResultInfo(r.resultName, names))
	}
}

// EnumerateTemplates enumerates the expressions of this router.
func (r *OptOut) EnumerateTemplates(localization flows.Localization, include func(i18n.Language, string)) {
	include(i18n.NilLanguage, r.operand)
}

// EnumerateLocalizables enumerates the category names, which translators may localize.
func (r *OptOut) EnumerateLocalizables(include func(uuids.UUID, string, []string, func([]string))) {
	for i, c := range r.categories {
		include(c.LocalizationUUID(), "name", []string{c.Name()}, func(v []string) {
			r.categories[i] = routers.NewCategory(c.UUID(), v[0], c.ExitUUID())
		})
	}
}

func (r *OptOut) category(uuid flows.CategoryUUID) flows.Category {
	for _, c := range r.categories {
		if c.UUID() == uuid {
			return c
		}
	}
	return nil
}

func hasExit(exits []flows.Exit, uuid flows.ExitUUID) bool {
	for _, e := range exits {
		if e.UUID() == uuid {
			return true
		}
	}
	return false
}

var _ flows.Router = (*OptOut)(nil)

//------------------------------------------------------------------------------------------
// JSON Encoding / Decoding
//------------------------------------------------------------------------------------------

type optOutEnvelope struct {
	Type               string             `json:"type"                  validate:"required"`
	Wait               json.RawMessage    `json:"wait,omitempty"`
	ResultName         string             `json:"result_name,omitempty" validate:"omitempty,result_name"`
	Categories         []json.RawMessage  `json:"categories"            validate:"required,min=3"`
	Operand            string             `json:"operand"               validate:"required"`
	OptOutCategoryUUID flows.CategoryUUID `json:"opt_out_category_uuid" validate:"required,uuid"`
	OptInCategoryUUID  flows.CategoryUUID `json:"opt_in_category_uuid"  validate:"required,uuid"`
	OtherCategoryUUID  flows.CategoryUUID `json:"other_category_uuid"   validate:"required,uuid"`
}

func (r *OptOut) UnmarshalJSON(data []byte) error {
	e := &optOutEnvelope{}
	if err := utils.UnmarshalAndValidate(data, e); err != nil {
		return err
	}

	r.resultName = e.ResultName
	r.operand = e.Operand
	r.optOutCategory = e.OptOutCategoryUUID
	r.optInCategory = e.OptInCategoryUUID
	r.otherCategory = e.OtherCategoryUUID

	r.categories = make([]flows.Category, len(e.Categories))
	for i, c := range e.Categories {
		var err error
		if r.categories[i], err = routers.ReadCategory(c); err != nil {
			return err
		}
	}

	if e.Wait != nil {
		var err error
		if r.wait, err = waits.ReadWait(e.Wait); err != nil {
			return fmt.Errorf("unable to read wait: %w", err)
		}
	}
	return nil
}

func (r *OptOut) MarshalJSON() ([]byte, error) {
	e := &optOutEnvelope{
		Type:               TypeOptOut,
		ResultName:         r.resultName,
		Operand:            r.operand,
		OptOutCategoryUUID: r.optOutCategory,
		OptInCategoryUUID:  r.optInCategory,
		OtherCategoryUUID:  r.otherCategory,
		Categories:         make([]json.RawMessage, len(r.categories)),
	}
	for i, c := range r.categories {
		var err error
		if e.Categories[i], err = jsonx.Marshal(c); err != nil {
			return nil, err
		}
	}
	if r.wait != nil {
		var err error
		if e.Wait, err = jsonx.Marshal(r.wait); err != nil {
			return nil, err
		}
	}
	return jsonx.Marshal(e)
}
