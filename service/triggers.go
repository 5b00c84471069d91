package service

import (
	"slices"
	"strings"
	"unicode"

	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/triggers"

	"github.com/optout-dev/optout/export"
)

// matchTrigger finds the trigger that starts a flow for a message no waiting session takes, as RapidPro does: a
// keyword trigger whose keyword is the message's first word (or the whole message, for only-word triggers), else a
// catch-all trigger, and among those that apply to the contact's groups and the message's channel, one restricted to
// groups over one that isn't. It returns nil when no trigger applies.
func (w *workspace) matchTrigger(text string, contact *flows.Contact, channel assets.ChannelUUID) (*export.Trigger, *triggers.KeywordMatch) {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) && r != '#' })

	var best *export.Trigger
	var match *triggers.KeywordMatch
	for _, t := range w.triggers {
		if t.Type != export.TriggerTypeKeyword || len(words) == 0 || !w.applies(t, contact, channel) {
			continue
		}
		for _, k := range t.Keywords {
			if !strings.EqualFold(k, words[0]) || (t.MatchType == export.MatchOnlyWord && len(words) > 1) {
				continue
			}
			if best == nil || len(t.Groups) > 0 && len(best.Groups) == 0 {
				best = t
				matchType := triggers.KeywordMatchTypeFirstWord
				if t.MatchType == export.MatchOnlyWord {
					matchType = triggers.KeywordMatchTypeOnlyWord
				}
				match = triggers.NewKeywordMatch(matchType, k)
			}
		}
	}
	if best != nil {
		return best, match
	}

	for _, t := range w.triggers {
		if t.Type == export.TriggerTypeCatchAll && w.applies(t, contact, channel) && (best == nil || len(t.Groups) > 0 && len(best.Groups) == 0) {
			best = t
		}
	}
	return best, nil
}

// applies says whether a trigger is for the contact and the channel.
func (w *workspace) applies(t *export.Trigger, contact *flows.Contact, channel assets.ChannelUUID) bool {
	inGroup := func(ref *assets.GroupReference) bool { return contact.Groups().FindByUUID(ref.UUID) != nil }

	if t.Channel != nil && t.Channel.UUID != channel {
		return false
	}
	if len(t.Groups) > 0 && !slices.ContainsFunc(t.Groups, inGroup) {
		return false
	}
	return !slices.ContainsFunc(t.ExcludeGroups, inGroup)
}
