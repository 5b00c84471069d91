package export

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
)

// Campaign is a set of events which fire for the members of a group at times relative to dates in their fields.
type Campaign struct {
	UUID   assets.CampaignUUID
	Name   string
	Group  *assets.GroupReference
	Events []*CampaignEvent
}

type campaignEnvelope struct {
	UUID   assets.CampaignUUID `json:"uuid"   validate:"required,uuid"`
	Name   string              `json:"name"   validate:"required"`
	Group  *groupReference     `json:"group"  validate:"required"`
	Events []json.RawMessage   `json:"events"`
}

// UnmarshalJSON reads a campaign and its events.
func (c *Campaign) UnmarshalJSON(data []byte) error {
	e := &campaignEnvelope{}
	if err := decode(data, e); err != nil {
		return err
	}

	events, err := readItems[CampaignEvent]("events", e.Events)
	if err != nil {
		return err
	}

	*c = Campaign{UUID: e.UUID, Name: e.Name, Group: assets.NewGroupReference(e.Group.UUID, e.Group.Name), Events: events}
	return nil
}

// MarshalJSON marshals this campaign as RapidPro exports it.
func (c *Campaign) MarshalJSON() ([]byte, error) {
	events := make([]json.RawMessage, len(c.Events))
	for i, event := range c.Events {
		var err error
		if events[i], err = event.MarshalJSON(); err != nil {
			return nil, err
		}
	}

	return jsonx.Marshal(&campaignEnvelope{
		UUID:   c.UUID,
		Name:   c.Name,
		Group:  writeGroupReference(c.Group),
		Events: events,
	})
}

// EventType is the type of a campaign event.
type EventType string

// the types of campaign event
const (
	EventTypeFlow    EventType = "F" // starts the contact in a flow
	EventTypeMessage EventType = "M" // sends the contact a message
)

// OffsetUnit is the unit of a campaign event's offset from the date it's relative to.
type OffsetUnit string

// the units of campaign event offsets
const (
	OffsetMinute OffsetUnit = "M"
	OffsetHour   OffsetUnit = "H"
	OffsetDay    OffsetUnit = "D"
	OffsetWeek   OffsetUnit = "W"
)

// StartMode is what a campaign event does to a contact who is already in a flow when it fires.
type StartMode string

// the start modes of campaign events
const (
	StartModeInterrupt StartMode = "I" // interrupts their flow
	StartModeSkip      StartMode = "S" // skips them
	StartModePassive   StartMode = "P" // starts them without interrupting their flow
)

// NoDeliveryHour is the delivery hour of an event which fires at the time of day of the date it's relative to.
const NoDeliveryHour = -1

// CampaignEvent fires a flow (flow events) or sends a message (message events) at Offset Units from the date in
// the RelativeTo field of each member of its campaign's group, at DeliveryHour if that isn't NoDeliveryHour.
type CampaignEvent struct {
	UUID         assets.CampaignPointUUID
	Type         EventType
	Offset       int
	Unit         OffsetUnit
	RelativeTo   *assets.FieldReference
	DeliveryHour int
	StartMode    StartMode
	Flow         *assets.FlowReference    // flow events only
	Message      map[i18n.Language]string // message events only
	BaseLanguage i18n.Language            // message events only: the language to send when the contact's isn't in Message
}

type eventEnvelope struct {
	UUID         assets.CampaignPointUUID `json:"uuid"                    validate:"required,uuid"`
	Offset       int                      `json:"offset"`
	Unit         OffsetUnit               `json:"unit"`
	EventType    EventType                `json:"event_type"`
	DeliveryHour *int                     `json:"delivery_hour"           validate:"omitempty,min=-1,max=23"`
	Message      json.RawMessage          `json:"message"`
	BaseLanguage i18n.Language            `json:"base_language,omitempty"`
	RelativeTo   *relativeTo              `json:"relative_to"             validate:"required"`
	StartMode    StartMode                `json:"start_mode,omitempty"`
	Flow         *assets.FlowReference    `json:"flow,omitempty"`
}

// relativeTo is how events reference their field: RapidPro names it label, and creates the field if it doesn't exist.
type relativeTo struct {
	Key   string `json:"key"   validate:"required"`
	Label string `json:"label"`
}

// UnmarshalJSON reads a campaign event as any RapidPro version has exported it.
func (e *CampaignEvent) UnmarshalJSON(data []byte) error {
	v := &eventEnvelope{}
	if err := decode(data, v); err != nil {
		return err
	}
	if err := checkOneOf("event_type", v.EventType, EventTypeFlow, EventTypeMessage); err != nil {
		return err
	}
	if err := checkOneOf("unit", v.Unit, OffsetMinute, OffsetHour, OffsetDay, OffsetWeek); err != nil {
		return err
	}
	if v.StartMode == "" {
		v.StartMode = StartModeInterrupt
	}
	if err := checkOneOf("start_mode", v.StartMode, StartModeInterrupt, StartModeSkip, StartModePassive); err != nil {
		return err
	}

	*e = CampaignEvent{
		UUID:         v.UUID,
		Type:         v.EventType,
		Offset:       v.Offset,
		Unit:         v.Unit,
		RelativeTo:   assets.NewFieldReference(v.RelativeTo.Key, v.RelativeTo.Label),
		DeliveryHour: NoDeliveryHour,
		StartMode:    v.StartMode,
	}
	if v.DeliveryHour != nil {
		e.DeliveryHour = *v.DeliveryHour
	}

	// flow events export their message as null, and message events have no flow of their own to export
	if e.Type == EventTypeFlow {
		if v.Flow == nil {
			return errors.New("field 'flow' is required")
		}
		e.Flow = v.Flow
		return nil
	}

	var err error
	e.Message, e.BaseLanguage, err = readMessage(v.Message, v.BaseLanguage)
	return err
}

// MarshalJSON marshals this campaign event as RapidPro exports it.
func (e *CampaignEvent) MarshalJSON() ([]byte, error) {
	v := &eventEnvelope{
		UUID:         e.UUID,
		Offset:       e.Offset,
		Unit:         e.Unit,
		EventType:    e.Type,
		DeliveryHour: &e.DeliveryHour,
		BaseLanguage: e.BaseLanguage,
		StartMode:    e.StartMode,
		Flow:         e.Flow,
	}
	if e.RelativeTo != nil {
		v.RelativeTo = &relativeTo{Key: e.RelativeTo.Key, Label: e.RelativeTo.Name}
	}
	if e.Message != nil {
		var err error
		if v.Message, err = jsonx.Marshal(e.Message); err != nil {
			return nil, err
		}
	}
	return jsonx.Marshal(v)
}

// readMessage reads the message of a message event, which RapidPro has exported as a map of language to text, as that
// map encoded in a string, and as a string of text in no particular language.
func readMessage(data json.RawMessage, baseLanguage i18n.Language) (map[i18n.Language]string, i18n.Language, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, "", errors.New("field 'message' is required")
	}

	var translations map[string]string
	if jsonx.Unmarshal(data, &translations) != nil {
		var text string
		if jsonx.Unmarshal(data, &text) != nil {
			return nil, "", errors.New("field 'message' must be text or an object of texts by language")
		}
		if jsonx.Unmarshal([]byte(text), &translations) != nil || translations == nil {
			translations = map[string]string{"": text}
			baseLanguage = ""
		}
	}
	if len(translations) == 0 {
		return nil, "", errors.New("field 'message' is required")
	}

	message := make(map[i18n.Language]string, len(translations))
	for lang, text := range translations {
		l := migrateLanguage(lang)
		if _, seen := message[l]; seen {
			return nil, "", fmt.Errorf("field 'message' has more than one text in language '%s'", l)
		}
		message[l] = text
	}

	if baseLanguage != "" || len(message) > 1 {
		baseLanguage = migrateLanguage(string(baseLanguage))
	} else {
		for l := range message {
			baseLanguage = l
		}
	}
	if message[baseLanguage] == "" {
		return nil, "", fmt.Errorf("field 'message' has no text in its base language '%s'", baseLanguage)
	}
	return message, baseLanguage, nil
}

// migrateLanguage replaces what isn't an ISO-639-3 code, like RapidPro's old "base", with "und", as goflow does when
// it migrates flows to spec 13.2.0.
func migrateLanguage(lang string) i18n.Language {
	if len(lang) != 3 {
		return "und"
	}
	return i18n.Language(lang)
}
