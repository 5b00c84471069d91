package service_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/service"
)

func TestBroadcast(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"templates": {"promo": "MARKETING", "receipt": "UTILITY"}}`)

	// 1200 opted out from a list (more than a batch), 10 who wrote an hour ago, 300 nobody knows
	var all []string
	for i := range 1200 {
		all = append(all, fmt.Sprintf("whatsapp:55119000%05d", i))
	}
	_, err := e.svc.ImportOptOuts(e.ctx, "acme", optOutList(t, "urn\n"+strings.Join(all, "\n")), nil)
	require.NoError(t, err)
	for i := range 10 {
		urn := fmt.Sprintf("whatsapp:55118000%05d", i)
		e.message("acme", urn, "oi")
		all = append(all, urn)
	}
	for i := range 300 {
		all = append(all, fmt.Sprintf("whatsapp:55117000%05d", i))
	}
	e.advance(time.Hour)

	broadcast := func(req map[string]any) *service.BroadcastView {
		req["urns"] = all
		body, _ := json.Marshal(req)
		b, err := e.svc.Broadcast(e.ctx, "acme", request[service.BroadcastRequest](t, string(body)))
		require.NoError(t, err)
		return b
	}

	promo := broadcast(map[string]any{"template": map[string]string{"name": "promo"}})
	assert.Equal(t, 310, promo.Sent)
	assert.Equal(t, map[string]int{"opted_out": 1200, "window_closed": 0}, promo.Skipped)
	assert.Equal(t, 1510, promo.Total)
	require.Len(t, promo.Recipients, service.PageSize)
	assert.Equal(t, service.RecipientView{URN: urns.URN(all[0]), Decision: "skip", Reason: "opted_out"}, *promo.Recipients[0])

	// every recipient is there, page after page, in order
	seen := 0
	for b := promo; ; {
		for _, r := range b.Recipients {
			assert.Equal(t, all[seen], string(r.URN))
			seen++
		}
		if b.Next == "" {
			break
		}
		after, _ := strconv.ParseInt(b.Next, 10, 64)
		b, err = e.svc.GetBroadcast(e.ctx, "acme", promo.ID, after, 500)
		require.NoError(t, err)
	}
	assert.Equal(t, 1510, seen)

	receipt := broadcast(map[string]any{"template": map[string]string{"name": "receipt"}})
	assert.Equal(t, 1510, receipt.Sent, "UTILITY counts as customer service, which reaches everyone")

	unknown := broadcast(map[string]any{"template": map[string]string{"name": "mystery"}})
	assert.Equal(t, 1200, unknown.Skipped["opted_out"], "a template of no known category fails closed")

	text := broadcast(map[string]any{"text": "Olá!", "dry_run": true})
	assert.Equal(t, 10, text.Sent)
	assert.Equal(t, map[string]int{"opted_out": 1200, "window_closed": 300}, text.Skipped, "a broadcast is the business writing first: no free text to opted-out contacts")
	assert.True(t, text.DryRun)

	outbox, _, err := e.svc.Outbox(e.ctx, "acme", 0, 1000)
	require.NoError(t, err)
	bySource := map[string]int{}
	for _, m := range outbox {
		bySource[m.Source+"/"+m.Template]++
	}
	assert.Equal(t, map[string]int{"broadcast/promo": 310, "broadcast/receipt": 690}, bySource, "the first page of the outbox, without the dry run's")

	// a group, streamed from the store in batches
	group, err := e.svc.Broadcast(e.ctx, "acme", &service.BroadcastRequest{Group: "Opted Out", Template: &service.TemplateRequest{Name: "x", Category: "OTP"}})
	require.NoError(t, err)
	assert.Equal(t, 1200, group.Sent)
}

func TestBroadcastErrors(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{}`)

	for body, msg := range map[string]string{
		`{"urns": ["whatsapp:5511987650001"]}`: "text: give template or text",
		`{"text": "hi"}`:                       "urns: give urns or group",
		`{"urns": ["whatsapp:5511987650001"], "group": "Opted Out", "text": "hi"}`:             "urns: give urns or group, not both",
		`{"urns": ["whatsapp:5511987650001", "fax:1"], "text": "hi"}`:                          `urns[1]: "fax:1" is not a valid URN: unknown URN scheme`,
		`{"group": "Nobody", "text": "hi"}`:                                                    `group: no group named "Nobody"`,
		`{"urns": ["whatsapp:5511987650001"], "template": {"name": ""}}`:                       "template.name: is required",
		`{"urns": ["whatsapp:5511987650001"], "template": {"name": "x", "category": "PROMO"}}`: `template.category: unknown category "PROMO" (want CUST_SERVICE or UTILITY, OTP or AUTHENTICATION, MARKETING)`,
		`{"urns": ["whatsapp:5511987650001"], "text": "hi", "template": {"name": "x"}}`:        "text: give template or text, not both",
	} {
		_, err := e.svc.Broadcast(e.ctx, "acme", request[service.BroadcastRequest](t, body))
		assert.EqualError(t, err, msg, body)
	}
}

// TestBroadcastFreeTextSkipsOptedOut guards the worst leak a broadcast can have: the contact whose last message was
// PARAR is inside the 24-hour window, and a broadcast is the business writing first, so free text must not reach them.
func TestBroadcastFreeTextSkipsOptedOut(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{}`)
	left, stayed := "whatsapp:5511987650001", "whatsapp:5511987650002"
	e.message("acme", left, "PARAR")
	e.message("acme", stayed, "oi")
	e.advance(time.Hour)

	b, err := e.svc.Broadcast(e.ctx, "acme", &service.BroadcastRequest{URNs: []string{left, stayed}, Text: "Promoção!"})
	require.NoError(t, err)
	assert.Equal(t, []service.RecipientView{
		{URN: urns.URN(left), Decision: "skip", Reason: "opted_out"},
		{URN: urns.URN(stayed), Decision: "send"},
	}, []service.RecipientView{*b.Recipients[0], *b.Recipients[1]})
}

// TestOnePersonOneConsent: every spelling of a person's number is that person, in messages, broadcasts, the consent
// API and imports alike.
func TestOnePersonOneConsent(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"templates": {"promo": "MARKETING"}}`)
	spellings := []string{"tel:+5511987650099", "whatsapp:551187650099", "whatsapp:05511987650099", "tel:+55 (11) 98765-0099", "WHATSAPP:+5511987650099"}

	r := e.message("acme", "whatsapp:5511987650099", "PARAR")
	ana := r.Contact.UUID
	b, err := e.svc.Broadcast(e.ctx, "acme", &service.BroadcastRequest{URNs: spellings, Template: &service.TemplateRequest{Name: "promo"}})
	require.NoError(t, err)
	assert.Equal(t, 0, b.Sent, "every spelling is the contact who opted out")
	assert.Equal(t, 1, b.Total, "and they are one recipient")

	for _, urn := range spellings {
		r := e.message("acme", urn, "oi")
		assert.Equal(t, ana, r.Contact.UUID, urn)
		contact, err := e.svc.Contact(e.ctx, "acme", urn)
		require.NoError(t, err, urn)
		assert.Equal(t, ana, contact.UUID, urn)
	}
	contact, err := e.svc.SetConsent(e.ctx, "acme", "tel:+5511987650099", &service.ConsentRequest{Status: "opted_in"})
	require.NoError(t, err)
	assert.Equal(t, ana, contact.UUID)

	result, err := e.svc.ImportOptOuts(e.ctx, "acme", optOutList(t, "urn\nwhatsapp:551187650099\n"), nil)
	require.NoError(t, err)
	assert.Equal(t, 0, result.NewContact)
	assert.Len(t, e.events("acme", "tel:+5511987650099"), 3, "one contact's audit log, whatever the spelling")
}

// A dry run stores nothing beyond its summary: its answer carries the counts and its first page of recipients, and
// none of its recipients is written, however many it has.
func TestDryRunStoresOnlyItsSummary(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"templates": {"promo": "MARKETING"}}`)
	e.message("acme", "whatsapp:5511900000000", "parar")
	var all []string
	for i := range 2500 {
		all = append(all, fmt.Sprintf("whatsapp:55119%08d", i))
	}

	b, err := e.svc.Broadcast(e.ctx, "acme", &service.BroadcastRequest{URNs: all, Template: &service.TemplateRequest{Name: "promo"}, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 2499, b.Sent)
	assert.Equal(t, map[string]int{"opted_out": 1, "window_closed": 0}, b.Skipped)
	assert.Equal(t, 2500, b.Total)
	require.Len(t, b.Recipients, service.PageSize)
	assert.Equal(t, service.RecipientView{URN: urns.URN(all[0]), Decision: "skip", Reason: "opted_out"}, *b.Recipients[0])
	assert.Empty(t, b.Next, "there is no next page to read: it wasn't kept")

	stored, err := e.store.BroadcastRecipients(e.ctx, b.ID, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, stored)
	again, err := e.svc.GetBroadcast(e.ctx, "acme", b.ID, 0, service.PageSize)
	require.NoError(t, err)
	assert.Equal(t, 2500, again.Total, "the summary is kept")
	assert.True(t, again.DryRun)
	assert.Empty(t, again.Recipients)
	outbox, _, err := e.svc.Outbox(e.ctx, "acme", 0, 10)
	require.NoError(t, err)
	require.Len(t, outbox, 1)
	assert.Equal(t, "reply", outbox[0].Source, "the opt-out's confirmation, and nothing of the dry run")
}
