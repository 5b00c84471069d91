package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/modifiers"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/internal/sanitize"
	"github.com/optout-dev/optout/store"
)

// MaxGroupMembersPerCall bounds the URNs one call adds to or removes from a group, which it changes in one
// transaction.
const MaxGroupMembersPerCall = 10000

// GroupView is a group as the API shows it.
type GroupView struct {
	UUID  assets.GroupUUID `json:"uuid"`
	Name  string           `json:"name"`
	Count int              `json:"count"`
}

// GroupRequest is the body of a group's creation.
type GroupRequest struct {
	Name string `json:"name"`
}

// MembersRequest names the contacts a call adds to a group or removes from it.
type MembersRequest struct {
	URNs []string `json:"urns"`
}

// MembersResult counts what a call did to a group's members.
type MembersResult struct {
	Changed     int `json:"changed"`      // contacts added, or removed
	Unchanged   int `json:"unchanged"`    // already members, or not members
	NewContacts int `json:"new_contacts"` // URNs the workspace didn't know, which adding created
}

// Groups returns the workspace's groups, by name, with how many contacts each has.
func (s *Service) Groups(ctx context.Context, workspaceID string) ([]*GroupView, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	counts, err := s.store.GroupCounts(ctx, w.ID)
	if err != nil {
		return nil, storeError(err)
	}
	groups := w.sa.Groups().All()
	views := make([]*GroupView, len(groups))
	for i, g := range groups {
		views[i] = &GroupView{UUID: g.UUID(), Name: g.Name(), Count: counts[g.UUID()]}
	}
	return views, nil
}

// CreateGroup creates a group with the name, which must be new to the workspace, ignoring case, as goflow finds
// groups by name.
func (s *Service) CreateGroup(ctx context.Context, workspaceID string, req *GroupRequest) (*GroupView, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.Name)
	switch {
	case name == "":
		return nil, newError(Unprocessable, "name", "is required")
	case utf8.RuneCountInString(name) > config.MaxGroupNameLength:
		return nil, newError(Unprocessable, "name", "is longer than %d characters", config.MaxGroupNameLength)
	case sanitize.Check(name) != nil:
		return nil, &Error{Kind: Unprocessable, Field: "name", Err: sanitize.Check(name)}
	}
	created, err := s.store.CreateGroup(ctx, w.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newError(NotFound, "", "no workspace %s", quote.Q(w.ID))
	} else if err != nil {
		return nil, storeError(err)
	}
	if !created {
		return nil, newError(Conflict, "name", "the workspace has a group named %s", quote.Q(name))
	}
	if w, err = s.reload(ctx, workspaceID); err != nil {
		return nil, err
	}
	return &GroupView{UUID: w.sa.Groups().FindByName(name).UUID(), Name: name}, nil
}

// AddToGroup adds the contacts with the URNs to the group, creating those the workspace doesn't know, in one
// transaction.
func (s *Service) AddToGroup(ctx context.Context, workspaceID, group string, req *MembersRequest) (*MembersResult, error) {
	return s.changeMembers(ctx, workspaceID, group, req, modifiers.GroupsAdd)
}

// RemoveFromGroup removes the contacts with the URNs from the group, in one transaction.
func (s *Service) RemoveFromGroup(ctx context.Context, workspaceID, group string, req *MembersRequest) (*MembersResult, error) {
	return s.changeMembers(ctx, workspaceID, group, req, modifiers.GroupsRemove)
}

func (s *Service) changeMembers(ctx context.Context, workspaceID, name string, req *MembersRequest, modification modifiers.GroupsModification) (*MembersResult, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	if len(req.URNs) == 0 {
		return nil, newError(Unprocessable, "urns", "is required")
	}
	group := w.sa.Groups().FindByName(name)
	switch {
	case group == nil:
		return nil, newError(NotFound, "", "no group named %s", quote.Q(name))
	case strings.EqualFold(group.Name(), w.cfg.Group):
		// membership of this group is what a contact's consent says; changing one without the other would lie
		return nil, newError(Unprocessable, "group", "%s is the group of opted-out contacts: change a contact's consent instead (POST .../contacts/URN/consent)", quote.Q(group.Name()))
	}
	keys, err := checkURNs(req.URNs, MaxGroupMembersPerCall)
	if err != nil {
		return nil, err
	}

	result := &MembersResult{}
	change := &store.Change{Workspace: w.ID}
	err = forEachContact(ctx, s, w, keys, func(urn urns.URN) urns.URN { return urn }, func(urn urns.URN, rec *store.Contact) error {
		if rec == nil && modification == modifiers.GroupsRemove {
			result.Unchanged++ // no contact, so no member
			return nil
		}
		changed, err := s.changeMember(ctx, w, change, rec, urn, group, modification)
		if err != nil {
			return err
		}
		if changed {
			result.Changed++
		} else {
			result.Unchanged++
		}
		if rec == nil {
			result.NewContacts++
		}
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	if err := s.write(ctx, change); err != nil {
		return nil, err
	}
	return result, nil
}

// changeMember adds a contact to the group or removes it, as a flow would, and adds it to the call's change if that
// changed it.
func (s *Service) changeMember(ctx context.Context, w *workspace, change *store.Change, rec *store.Contact, urn urns.URN, group *flows.Group, modification modifiers.GroupsModification) (bool, error) {
	contact, lastInbound, err := s.contactOf(w, rec, urn, "")
	if err != nil {
		return false, err
	}
	changed := false
	_, err = modifiers.Apply(ctx, s.eng, w.env, w.sa, contact, modifiers.NewGroups([]*flows.Group{group}, modification), func(e flows.Event) {
		_, changed = e.(*events.ContactGroupsChanged)
	})
	if err != nil {
		return false, fmt.Errorf("changing the groups of %s: %w", urn, err)
	}
	if !changed && rec != nil {
		return false, nil
	}
	c := s.begin(w, contact, lastInbound, engine.OriginReply)
	if err := s.settle(c); err != nil {
		return false, err
	}
	change.Contacts = append(change.Contacts, c.change.Contacts...)
	return changed, nil
}

// checkURNs checks the URNs of a request that names contacts, at most limit of them unless limit is 0, returning
// each's key once.
func checkURNs(raw []string, limit int) ([]urns.URN, error) {
	if limit > 0 && len(raw) > limit {
		return nil, newError(Unprocessable, "urns", "has %d URNs: give at most %d a call", len(raw), limit)
	}
	seen := make(map[urns.URN]bool, len(raw))
	keys := make([]urns.URN, 0, len(raw))
	for i, s := range raw {
		urn, err := parseURN(s)
		if err != nil {
			return nil, &Error{Kind: Unprocessable, Field: fmt.Sprintf("urns[%d]", i), Err: err}
		}
		if !seen[urn] {
			seen[urn] = true
			keys = append(keys, urn)
		}
	}
	return keys, nil
}
