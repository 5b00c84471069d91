package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nyaruka/gocommon/jsonx"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/store"
)

// TemplateChangeView is a row of a workspace's templates log: Meta changing a template's category, or announcing it
// will. The workspace's templates map has the category from the time the change is applied.
type TemplateChangeView struct {
	ID               int64      `json:"id"`
	Template         string     `json:"template"`
	TemplateID       string     `json:"template_id"`
	Language         string     `json:"language"`
	PreviousCategory string     `json:"previous_category,omitempty"`
	Category         string     `json:"category"`
	Announced        bool       `json:"announced"` // a change Meta announced ahead of EffectiveOn, rather than one it made
	EffectiveOn      time.Time  `json:"effective_on"`
	AppliedOn        *time.Time `json:"applied_on,omitempty"`
	ReceivedOn       time.Time  `json:"received_on"`
}

// TemplateChanges returns a page of the workspace's templates log.
func (s *Service) TemplateChanges(ctx context.Context, workspaceID string, after int64, limit int) ([]*TemplateChangeView, string, error) {
	return listPage(s, ctx, workspaceID, limit,
		func() ([]*store.TemplateChange, error) {
			return s.store.TemplateChanges(ctx, workspaceID, after, limit)
		},
		func(c *store.TemplateChange) *TemplateChangeView {
			v := &TemplateChangeView{
				ID: c.ID, Template: c.Template, TemplateID: c.TemplateID, Language: c.Language, PreviousCategory: c.PreviousCategory,
				Category: c.Category, Announced: c.Announced, EffectiveOn: c.EffectiveOn, ReceivedOn: c.ReceivedOn,
			}
			if !c.AppliedOn.IsZero() {
				v.AppliedOn = &c.AppliedOn
			}
			return v
		},
		func(c *store.TemplateChange) int64 { return c.ID })
}

// applyTemplateChanges puts the template changes that are due in their workspaces' templates maps, so that a template
// Meta moved to MARKETING is blocked for opted-out contacts from then on, with no one editing the configuration.
func (s *Service) applyTemplateChanges(ctx context.Context) {
	due, err := s.store.DueTemplateChanges(ctx, s.now(), 100)
	if err != nil {
		s.log.Error("reading due template changes failed", "error", err)
		return
	}
	for _, c := range due {
		applied, err := s.store.ApplyTemplateChange(ctx, c, s.now().UTC(), func(cfg json.RawMessage) (json.RawMessage, error) {
			doc := &config.Document{}
			if len(cfg) > 0 {
				if err := jsonx.Unmarshal(cfg, doc); err != nil {
					return nil, err
				}
			}
			if doc.Templates == nil {
				doc.Templates = map[string]string{}
			}
			doc.Templates[c.Template] = c.Category
			return jsonx.Marshal(doc)
		})
		if err != nil {
			s.log.Error("applying a template change failed", "workspace", c.Workspace, "template", c.Template, "error", err)
			continue
		}
		if applied {
			s.log.Info("template category changed by Meta", "workspace", c.Workspace, "template", c.Template,
				"language", c.Language, "from", c.PreviousCategory, "to", c.Category)
		}
	}
}
