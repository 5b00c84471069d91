package service_test

import (
	"strings"
	"testing"

	"github.com/nyaruka/gocommon/urns"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/service"
)

func TestImportContacts(t *testing.T) {
	e := newEnv(t)
	e.workspace("clinic", `{"templates": {"lembrete": "UTILITY"}}`)
	e.message("clinic", "whatsapp:5511987650001", "oi")

	rows, err := service.ReadContactsCSV(strings.NewReader("\ufeffurn;name;language;groups;field:plan;field:city\r\n" +
		"whatsapp:5511987650001;Ana;por;Pacientes, VIP;gold;\r\n" +
		"tel:+55 11 98765-0002;Bia;spa;Pacientes;;Campinas\r\n"))
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"Pacientes", "VIP"}, rows[0].Groups)
	assert.Equal(t, urns.URN("whatsapp:5511987650002"), rows[1].URN)

	var progress []int
	result, err := e.svc.ImportContacts(e.ctx, "clinic", rows, func(n int) { progress = append(progress, n) })
	require.NoError(t, err)
	assert.Equal(t, &service.ContactImportResult{Rows: 2, NewContacts: 1, CreatedGroups: []string{"Pacientes", "VIP"}, CreatedFields: []string{"city", "plan"}}, result)
	assert.Equal(t, []int{2}, progress)

	ana, err := e.svc.Contact(e.ctx, "clinic", "whatsapp:5511987650001")
	require.NoError(t, err)
	assert.Equal(t, "Ana", ana.Name)
	assert.Equal(t, "por", ana.Language)
	assert.ElementsMatch(t, []string{"Pacientes", "VIP"}, ana.Groups)
	assert.Equal(t, "gold", ana.Fields["plan"])
	assert.NotNil(t, ana.LastInboundOn, "what the contact had is kept")
	bia, err := e.svc.Contact(e.ctx, "clinic", "whatsapp:5511987650002")
	require.NoError(t, err)
	assert.Equal(t, "Campinas", bia.Fields["city"])

	// and the group is there to broadcast to
	b, err := e.svc.Broadcast(e.ctx, "clinic", &service.BroadcastRequest{Group: "Pacientes", Template: &service.TemplateRequest{Name: "lembrete"}})
	require.NoError(t, err)
	assert.Equal(t, 2, b.Sent)

	// importing again adds nothing new
	result, err = e.svc.ImportContacts(e.ctx, "clinic", rows, nil)
	require.NoError(t, err)
	assert.Equal(t, &service.ContactImportResult{Rows: 2}, result)
}

func TestReadContactsCSVErrors(t *testing.T) {
	_, err := service.ReadContactsCSV(strings.NewReader("urn,field:2nd_plan,field:optout_status\nwhatsapp:5511987650001,x,y\n"))
	assert.EqualError(t, err, `2 bad rows, nothing imported:
line 1: field:2nd_plan: key '2nd_plan' isn't valid: must be lowercase letters, digits and underscores, starting with a letter
line 1: field:optout_status: consent is imported with import-optouts, which audits it`)

	_, err = service.ReadContactsCSV(strings.NewReader("urn,name,language\n" +
		"whatsapp:5511987650001,Ana,por\n" +
		"whatsapp:+55 11 98765-0001,Ana,por\n" +
		"whatsapp:5511987650002,Bia,portuguese\n" +
		"telegram:1234567,Caio,\n"))
	assert.EqualError(t, err, `3 bad rows, nothing imported:
line 3: urn: whatsapp:5511987650001 is also on line 2
line 4: language: "portuguese" is not an ISO 639-3 code
line 5: urn: "telegram:1234567" is not a WhatsApp or phone number: the workspace's channel is WhatsApp`)

	e := newEnv(t)
	e.workspace("clinic", `{}`)
	rows, err := service.ReadContactsCSV(strings.NewReader("urn,group\nwhatsapp:5511987650001,opted out\n"))
	require.NoError(t, err)
	_, err = e.svc.ImportContacts(e.ctx, "clinic", rows, nil)
	assert.EqualError(t, err, `line 2: groups: "opted out" is the group of opted-out contacts, which follows consent: import opt-outs with import-optouts`)
}
