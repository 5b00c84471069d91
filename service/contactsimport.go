package service

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/modifiers"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/store"
)

// ContactRow is a row of a contact list being imported.
type ContactRow struct {
	Line     int
	URN      urns.URN
	Name     string
	Language i18n.Language
	Groups   []string          // to add the contact to
	Fields   map[string]string // by key: the values to set
}

// fieldColumn is the prefix of a column that sets a contact field, as RapidPro's contact imports name them.
const fieldColumn = "field:"

// ReadContactsCSV reads a contact list: a urn (or phone) column, and name, language, group or groups (names separated
// by commas or semicolons) and field:KEY columns, as many as needed; separated by commas or semicolons. Every row is
// checked, and the error lists each bad one by its line number. A contact listed twice is refused: unlike an opt-out,
// which two rows can only agree on, two rows of one contact can say two things.
func ReadContactsCSV(in io.Reader) ([]*ContactRow, error) {
	l, err := openContactList(in)
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, name := range l.names {
		if key, ok := strings.CutPrefix(name, fieldColumn); ok {
			if _, err := export.NewTextField(key); err != nil {
				problems = append(problems, fmt.Sprintf("line 1: %s: %s", name, err))
			} else if key == consent.StatusField || key == consent.ChangedOnField {
				problems = append(problems, fmt.Sprintf("line 1: %s: consent is imported with import-optouts, which audits it", name))
			}
		}
	}
	if len(problems) > 0 {
		return nil, badRows(problems, len(problems))
	}

	var rows []*ContactRow
	seen := map[urns.URN]int{}
	err = l.each(func(r *listRow, record []string) (string, error) {
		if first, dup := seen[r.urn]; dup {
			return fmt.Sprintf("urn: %s is also on line %d", r.urn, first), nil
		}
		seen[r.urn] = r.line
		row := &ContactRow{Line: r.line, URN: r.urn, Name: r.name, Language: r.language, Fields: map[string]string{}}
		for _, column := range []string{"group", "groups"} {
			for _, g := range strings.FieldsFunc(l.get(record, column), func(r rune) bool { return r == ',' || r == ';' }) {
				if g = strings.TrimSpace(g); g != "" && !slices.Contains(row.Groups, g) {
					row.Groups = append(row.Groups, g)
				}
			}
		}
		for i, name := range l.names {
			if key, ok := strings.CutPrefix(name, fieldColumn); ok && i < len(record) && strings.TrimSpace(record[i]) != "" {
				row.Fields[key] = fromText(strings.TrimSpace(record[i]))
			}
		}
		rows = append(rows, row)
		return "", nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// ContactImportResult counts what a contact import did.
type ContactImportResult struct {
	Rows          int      `json:"rows"`
	NewContacts   int      `json:"new_contacts"`
	CreatedGroups []string `json:"created_groups,omitempty"`
	CreatedFields []string `json:"created_fields,omitempty"`
}

// ImportContacts creates or updates the list's contacts, in one transaction: a name or language a row gives replaces
// the contact's, its groups are added to the contact's, and its fields set. Groups and fields the workspace doesn't
// have are created first, as RapidPro's imports create them (they stay if the contacts then fail to commit). The
// group of opted-out contacts follows consent and is refused. progress is called with the rows prepared so far.
func (s *Service) ImportContacts(ctx context.Context, workspaceID string, rows []*ContactRow, progress func(int)) (*ContactImportResult, error) {
	started := time.Now()
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	result := &ContactImportResult{Rows: len(rows)}
	if w, err = s.createListAssets(ctx, w, rows, result); err != nil {
		return nil, err
	}

	change := &store.Change{Workspace: w.ID}
	err = forEachContact(ctx, s, w, rows, func(r *ContactRow) urns.URN { return r.URN }, func(r *ContactRow, rec *store.Contact) error {
		if rec == nil {
			result.NewContacts++
		}
		record, err := s.importContact(ctx, w, rec, r)
		if err != nil {
			return fmt.Errorf("line %d: %w", r.Line, err)
		}
		change.Contacts = append(change.Contacts, record)
		return nil
	}, progress)
	if err != nil {
		return nil, err
	}
	if err := s.write(ctx, change); err != nil {
		return nil, err
	}
	s.log.Info("imported contacts", "workspace", w.ID, "rows", result.Rows, "new_contacts", result.NewContacts,
		"created_groups", len(result.CreatedGroups), "created_fields", len(result.CreatedFields), "elapsed_ms", time.Since(started).Milliseconds())
	return result, nil
}

// createListAssets creates the groups and fields a contact list uses that the workspace hasn't, and returns the
// workspace with them.
func (s *Service) createListAssets(ctx context.Context, w *workspace, rows []*ContactRow, result *ContactImportResult) (*workspace, error) {
	missing := &export.Export{}
	seen := map[string]bool{}
	for _, r := range rows {
		for _, name := range r.Groups {
			if strings.EqualFold(name, w.cfg.Group) {
				return nil, newError(Unprocessable, "", "line %d: groups: %s is the group of opted-out contacts, which follows consent: import opt-outs with import-optouts", r.Line, quote.Q(name))
			}
			if w.sa.Groups().FindByName(name) == nil && !seen["group:"+strings.ToLower(name)] {
				seen["group:"+strings.ToLower(name)] = true
				missing.Groups = append(missing.Groups, &export.Group{UUID: assets.GroupUUID(uuids.NewV4()), Name: name})
				result.CreatedGroups = append(result.CreatedGroups, name)
			}
		}
		for key := range r.Fields {
			if w.sa.Fields().Get(key) == nil && !seen["field:"+key] {
				seen["field:"+key] = true
				field, err := export.NewTextField(key)
				if err != nil {
					return nil, newError(Unprocessable, fieldColumn+key, "%s", err)
				}
				missing.Fields = append(missing.Fields, field)
				result.CreatedFields = append(result.CreatedFields, key)
			}
		}
	}
	if len(missing.Groups)+len(missing.Fields) == 0 {
		return w, nil
	}
	slices.Sort(result.CreatedFields)
	if err := s.store.Import(ctx, w.ID, missing); err != nil {
		return nil, storeError(err)
	}
	return s.reload(ctx, w.ID)
}

// importContact applies a row to its contact, or to a new one, as a flow would change it, and returns the contact as
// the store keeps it.
func (s *Service) importContact(ctx context.Context, w *workspace, rec *store.Contact, r *ContactRow) (*store.Contact, error) {
	contact, lastInbound, err := s.contactOf(w, rec, r.URN, r.Name)
	if err != nil {
		return nil, err
	}
	mods := make([]flows.Modifier, 0, 2+len(r.Fields))
	if r.Name != "" {
		mods = append(mods, modifiers.NewName(r.Name))
	}
	if r.Language != "" {
		mods = append(mods, modifiers.NewLanguage(r.Language))
	}
	groups := make([]*flows.Group, 0, len(r.Groups))
	for _, name := range r.Groups {
		groups = append(groups, w.sa.Groups().FindByName(name))
	}
	if len(groups) > 0 {
		mods = append(mods, modifiers.NewGroups(groups, modifiers.GroupsAdd))
	}
	for _, key := range slices.Sorted(maps.Keys(r.Fields)) {
		mods = append(mods, modifiers.NewField(w.sa.Fields().Get(key), r.Fields[key]))
	}
	for _, mod := range mods {
		if _, err := modifiers.Apply(ctx, s.eng, w.env, w.sa, contact, mod, func(flows.Event) {}); err != nil {
			return nil, err
		}
	}
	c := s.begin(w, contact, lastInbound, engine.OriginReply)
	if err := s.settle(c); err != nil {
		return nil, err
	}
	return c.change.Contacts[0], nil
}
