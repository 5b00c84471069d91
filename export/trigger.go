package export

import (
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
)

// TriggerType is the type of a trigger, as RapidPro's single letter code for it. Triggers of types without a
// constant here are read all the same, for hosts to ignore if they don't run them.
type TriggerType string

// the types of trigger RapidPro has
const (
	TriggerTypeKeyword         TriggerType = "K" // a message matching a keyword
	TriggerTypeCatchAll        TriggerType = "C" // a message that nothing else handles
	TriggerTypeSchedule        TriggerType = "S" // a time on a schedule
	TriggerTypeInboundCall     TriggerType = "V" // an incoming call
	TriggerTypeMissedCall      TriggerType = "M" // a missed call
	TriggerTypeNewConversation TriggerType = "N" // a contact starting a conversation on a channel
	TriggerTypeReferral        TriggerType = "R" // a contact arriving from a referral, such as an ad
	TriggerTypeClosedTicket    TriggerType = "T" // a ticket being closed
	TriggerTypeOptIn           TriggerType = "I" // a contact opting in to an opt-in
	TriggerTypeOptOut          TriggerType = "O" // a contact opting out of an opt-in
)

// MatchType is how a keyword trigger matches a message.
type MatchType string

// the match types of keyword triggers
const (
	MatchFirstWord MatchType = "F" // the first word of the message is a keyword
	MatchOnlyWord  MatchType = "O" // the message is just a keyword
)

// Trigger starts contacts in a flow when something happens: only members of Groups if it has any, never members of
// ExcludeGroups, and only for what happens on Channel if that isn't nil.
type Trigger struct {
	Type          TriggerType
	Flow          *assets.FlowReference
	Keywords      []string  // keyword triggers only
	MatchType     MatchType // keyword triggers only
	Groups        []*assets.GroupReference
	ExcludeGroups []*assets.GroupReference
	Channel       *assets.ChannelReference
}

type triggerEnvelope struct {
	Type          TriggerType           `json:"trigger_type"             validate:"required"`
	Flow          *assets.FlowReference `json:"flow"                     validate:"required"`
	Keyword       string                `json:"keyword,omitempty"`
	Keywords      []string              `json:"keywords,omitempty"`
	MatchType     MatchType             `json:"match_type,omitempty"`
	Groups        []*groupReference     `json:"groups"                   validate:"dive,required"`
	ExcludeGroups []*groupReference     `json:"exclude_groups,omitempty" validate:"dive,required"`
	Channel       *channelReference     `json:"channel,omitempty"`
}

// channelReference reads the channel of a trigger, which older exports give as just its UUID.
type channelReference assets.ChannelReference

func (r *channelReference) UnmarshalJSON(data []byte) error {
	var uuid assets.ChannelUUID
	if jsonx.Unmarshal(data, &uuid) == nil {
		*r = channelReference{UUID: uuid}
		return nil
	}
	return jsonx.Unmarshal(data, (*assets.ChannelReference)(r))
}

// UnmarshalJSON reads a trigger as any RapidPro version has exported it.
func (t *Trigger) UnmarshalJSON(data []byte) error {
	e := &triggerEnvelope{}
	if err := decode(data, e); err != nil {
		return err
	}

	*t = Trigger{
		Type:          e.Type,
		Flow:          e.Flow,
		Groups:        readGroupReferences(e.Groups),
		ExcludeGroups: readGroupReferences(e.ExcludeGroups),
		Channel:       (*assets.ChannelReference)(e.Channel),
	}

	// like RapidPro, ignore keywords on triggers of other types
	if t.Type != TriggerTypeKeyword {
		return nil
	}

	// older exports have a single keyword and no match type
	t.Keywords = e.Keywords
	if len(t.Keywords) == 0 && e.Keyword != "" {
		t.Keywords = []string{e.Keyword}
	}
	if len(t.Keywords) == 0 {
		return errors.New("field 'keywords' is required")
	}
	for _, keyword := range t.Keywords {
		if err := checkKeyword(keyword); err != nil {
			return err
		}
	}

	t.MatchType = e.MatchType
	if t.MatchType == "" {
		t.MatchType = MatchFirstWord
	}
	return checkOneOf("match_type", t.MatchType, MatchFirstWord, MatchOnlyWord)
}

// MarshalJSON marshals this trigger as RapidPro exports it.
func (t *Trigger) MarshalJSON() ([]byte, error) {
	return jsonx.Marshal(&triggerEnvelope{
		Type:          t.Type,
		Flow:          t.Flow,
		Keywords:      t.Keywords,
		MatchType:     t.MatchType,
		Groups:        writeGroupReferences(t.Groups),
		ExcludeGroups: writeGroupReferences(t.ExcludeGroups),
		Channel:       (*channelReference)(t.Channel),
	})
}

// the rules RapidPro applies to keywords: a word, or one emoji since the engine treats each emoji as a word
const maxKeywordLength = 16

var keywordRegex = regexp.MustCompile(`^(?:[\pL\pM\pN_]+|[\x{1F600}-\x{1F64F}\x{1F300}-\x{1F5FF}\x{1F680}-\x{1F6FF}\x{1F1E0}-\x{1F1FF}])$`)

func checkKeyword(keyword string) error {
	if !keywordRegex.MatchString(keyword) {
		return fmt.Errorf("keyword '%s' isn't valid: must be a single word or emoji", keyword)
	}
	if utf8.RuneCountInString(keyword) > maxKeywordLength {
		return fmt.Errorf("keyword '%s' is longer than %d characters", keyword, maxKeywordLength)
	}
	return nil
}
