package service

import (
	"time"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/store"
)

// ContactView is a contact as the API shows it.
type ContactView struct {
	UUID      flows.ContactUUID `json:"uuid"`
	URN       urns.URN          `json:"urn"`
	Name      string            `json:"name,omitempty"`
	Language  string            `json:"language"`
	OptStatus consent.Status    `json:"opt_status"`
	Groups    []string          `json:"groups"`

	// only when the contact is asked for by itself
	Fields        map[string]string `json:"fields,omitempty"`
	LastInboundOn *time.Time        `json:"last_inbound_on,omitempty"`
}

// view shows a contact, with its fields and last inbound time when full.
func (w *workspace) view(contact *flows.Contact, lastInbound time.Time, full bool) *ContactView {
	v := &ContactView{
		UUID:      contact.UUID(),
		URN:       contactURN(contact),
		Name:      contact.Name(),
		Language:  string(contact.Language()),
		OptStatus: consent.StatusOf(w.sa, contact),
		Groups:    make([]string, 0, contact.Groups().Count()),
	}
	for _, g := range contact.Groups().All() {
		v.Groups = append(v.Groups, g.Name())
	}
	if full {
		v.Fields = map[string]string{}
		for key, fv := range contact.Fields() {
			if fv != nil {
				v.Fields[key] = fv.Value.Text.Native()
			}
		}
		if !lastInbound.IsZero() {
			v.LastInboundOn = &lastInbound
		}
	}
	return v
}

// record is the contact as the store keeps it.
func (w *workspace) record(contact *flows.Contact, lastInbound time.Time) (*store.Contact, error) {
	data, err := jsonx.Marshal(contact)
	if err != nil {
		return nil, err
	}
	rec := &store.Contact{
		UUID:          contact.UUID(),
		URN:           contactURN(contact),
		Name:          contact.Name(),
		Language:      contact.Language(),
		OptStatus:     consent.StatusOf(w.sa, contact),
		LastInboundOn: lastInbound,
		Groups:        make([]assets.GroupUUID, 0, contact.Groups().Count()),
		Data:          data,
		CreatedOn:     contact.CreatedOn(),
	}
	for _, g := range contact.Groups().All() {
		rec.Groups = append(rec.Groups, g.UUID())
	}
	if field := w.sa.Fields().Get(consent.ChangedOnField); field != nil {
		if v := contact.Fields().Get(field); v != nil && v.Datetime != nil {
			rec.OptChangedOn = v.Datetime.Native().UTC()
		}
	}
	return rec, nil
}
