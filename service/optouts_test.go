package service_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/store"
)

func TestOptOutListsRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "a-secret-long-enough"}}`)
	e.message("acme", "whatsapp:5511987650001", "parar")
	e.message("acme", "whatsapp:5511987650002", "oi")

	list, err := service.ReadOptOutsCSV(strings.NewReader("\ufeffURN,name,language,opted_out_on,notes\n" +
		"whatsapp:5511987650001,Ana,por,,already out\n" +
		"whatsapp:5511987650002,,,2026-01-02T03:04:05Z,\n" +
		"whatsapp:5511987650003,\"Carla \"\"Cacá\"\" O'Neil; DROP TABLE contacts;--\",spa,,\n"))
	require.NoError(t, err)
	require.Equal(t, 3, list.Len())

	var progress []int
	result, err := e.svc.ImportOptOuts(e.ctx, "acme", list, func(n int) { progress = append(progress, n) })
	require.NoError(t, err)
	assert.Equal(t, &service.OptOutImportResult{Rows: 3, OptedOut: 2, Unchanged: 1, NewContact: 1}, result)
	assert.Equal(t, []int{3}, progress)

	events := e.events("acme", "")
	require.Len(t, events, 3)
	assert.Equal(t, "import", string(events[1].Source))
	assert.Equal(t, "2026-01-02T03:04:05Z", events[1].OccurredOn.Format("2006-01-02T15:04:05Z07:00"))
	assert.Len(t, e.webhooks("acme"), 1, "the keyword's only: the business already has the list it imports")

	carla, err := e.svc.Contact(e.ctx, "acme", "whatsapp:5511987650003")
	require.NoError(t, err)
	assert.Equal(t, `Carla "Cacá" O'Neil; DROP TABLE contacts;--`, carla.Name)
	assert.Equal(t, "spa", carla.Language)
	assert.Equal(t, "opted_out", string(carla.OptStatus))

	var out bytes.Buffer
	require.NoError(t, e.svc.WriteOptOutsCSV(e.ctx, "acme", &out, nil))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, "urn,uuid,name,language,opted_out_on", lines[0])
	assert.True(t, strings.HasPrefix(lines[2], "whatsapp:5511987650002,"))
	assert.True(t, strings.HasSuffix(lines[2], ",,2026-01-02T03:04:05Z"), lines[2])
	assert.Contains(t, lines[3], `"Carla ""Cacá"" O'Neil; DROP TABLE contacts;--",spa`)

	// what export writes, import reads, into another workspace
	e.workspace("copy", `{}`)
	result, err = e.svc.ImportOptOuts(e.ctx, "copy", optOutList(t, out.String()), nil)
	require.NoError(t, err)
	assert.Equal(t, 3, result.OptedOut)
}

func TestReadOptOutsCSVErrors(t *testing.T) {
	_, err := service.ReadOptOutsCSV(strings.NewReader(""))
	assert.EqualError(t, err, "line 1: the file is empty: expected a header with a urn column")

	_, err = service.ReadOptOutsCSV(strings.NewReader("number,name\n+5511,Ana\n"))
	assert.EqualError(t, err, `line 1: the header "number,name" has no urn or phone column`)

	_, err = service.ReadOptOutsCSV(strings.NewReader("urn\n\"whatsapp:1\nbad\n"))
	assert.ErrorContains(t, err, "1 bad rows, nothing imported:\nrecord on line 2; parse error on line 3, column 5: extraneous or missing \" in quoted-field")

	_, err = service.ReadOptOutsCSV(strings.NewReader("urn,language,opted_out_on\n" +
		"whatsapp:5511987650001,por,\n" +
		"5511987650002,,\n" +
		"whatsapp:5511987650001,,\n" +
		"whatsapp:5511987650004,portuguese,\n" +
		"whatsapp:5511987650005,,yesterday\n" +
		"whatsapp:5511987650006,,\n"))
	assert.EqualError(t, err, `3 bad rows, nothing imported:
line 3: urn: "5511987650002" is not a valid URN: path cannot be empty
line 5: language: "portuguese" is not an ISO 639-3 code
line 6: opted_out_on: "yesterday" is not an RFC 3339 time`)
}

// TestOptOutsEndWaitingSessions: an opt-out made by an import or through the API ends the contact's waiting session
// exactly as a keyword does, so that the flow doesn't carry on with the next message.
func TestOptOutsEndWaitingSessions(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{}`)
	e.importFile("acme", "../../shared/rapidpro-exports/rating_10.json")
	question := []string{"How do you rate the experience? Answer with a number below 10"}
	byImport, byAPI, byKeyword := "whatsapp:5511987650001", "whatsapp:5511987650002", "whatsapp:5511987650003"
	for _, urn := range []string{byImport, byAPI, byKeyword} {
		require.Equal(t, question, replies(e.message("acme", urn, "rating")))
	}

	_, err := e.svc.ImportOptOuts(e.ctx, "acme", optOutList(t, "urn\n"+byImport+"\n"), nil)
	require.NoError(t, err)
	_, err = e.svc.SetConsent(e.ctx, "acme", byAPI, &service.ConsentRequest{Status: "opted_out"})
	require.NoError(t, err)
	e.message("acme", byKeyword, "parar")

	for _, urn := range []string{byImport, byAPI, byKeyword} {
		r := e.message("acme", urn, "7")
		assert.Empty(t, r.Replies, "%s's flow ended with the opt-out", urn)
		assert.Equal(t, "opted_out", string(r.Contact.OptStatus))
	}
}

// An opt-out list is checked field by field as the API checks a request: names of at most 128 characters, no NUL,
// valid UTF-8; and a file with many bad rows lists the first 100, with how many more there are.
func TestReadOptOutsCSVBounds(t *testing.T) {
	_, err := service.ReadOptOutsCSV(strings.NewReader("urn,name\n" +
		"whatsapp:5511987650001," + strings.Repeat("a", 129) + "\n" +
		"whatsapp:5511987650002,Ana\x00\n" +
		"whatsapp:5511987650003,Jos\xe9\n" +
		"whatsapp:5511987650004,Bia\n"))
	assert.EqualError(t, err, `3 bad rows, nothing imported:
line 2: name: is longer than 128 characters
line 3: name: has the control character U+0000 at character 4
line 4: name: is not valid UTF-8`)

	var csv strings.Builder
	csv.WriteString("urn\n")
	for range 250 {
		csv.WriteString("nope\n")
	}
	_, err = service.ReadOptOutsCSV(strings.NewReader(csv.String()))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Equal(t, "250 bad rows, nothing imported:", lines[0])
	assert.Len(t, lines, 1+100+1, "the first 100, and a line for the rest")
	assert.Equal(t, `line 101: urn: "nope" is not a valid URN: path cannot be empty`, lines[100])
	assert.Equal(t, "... and 150 more bad rows", lines[101])
}

// Opt-out lists are safe to open in a spreadsheet (OWASP's CSV injection rule): a field that starts with =, +, -, @,
// a tab or a carriage return is written with a ' before it, which import-optouts takes off again.
func TestOptOutsCSVIsSafeInASpreadsheet(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{}`)
	// a name is one line, so a tab around it is cleaned away; the others stay as they are
	names := []string{`=HYPERLINK("http://evil.example","click")`, "+55 cmd", "-2+3", "@SUM(A1)", "Ana"}
	var list bytes.Buffer
	w := csv.NewWriter(&list)
	w.Write([]string{"urn", "name"})
	for i, name := range names {
		w.Write([]string{fmt.Sprintf("whatsapp:55119876500%02d", i), name})
	}
	w.Flush()
	_, err := e.svc.ImportOptOuts(e.ctx, "acme", optOutList(t, list.String()), nil)
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, e.svc.WriteOptOutsCSV(e.ctx, "acme", &out, nil))
	records, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
	require.NoError(t, err)
	require.Len(t, records, len(names)+1)
	for i, record := range records[1:] {
		if names[i] == "Ana" {
			assert.Equal(t, "Ana", record[2])
		} else {
			assert.Equal(t, "'"+names[i], record[2], "written as text")
		}
	}

	// and what export wrote, import reads back as it was
	e.workspace("copy", `{}`)
	_, err = e.svc.ImportOptOuts(e.ctx, "copy", optOutList(t, out.String()), nil)
	require.NoError(t, err)
	for i, name := range names {
		contact, err := e.svc.Contact(e.ctx, "copy", fmt.Sprintf("whatsapp:55119876500%02d", i))
		require.NoError(t, err)
		assert.Equal(t, name, contact.Name)
	}
}

// A flow of a platform without the plugin records its contacts' keywords through the consent API: normalized by the
// workspace's catalog, with source flow, notified, and once per message however often the flow's call is retried.
func TestConsentFromAFlow(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{"webhook": {"url": "http://127.0.0.1:9/hook", "secret": "a-secret-long-enough"}}`)
	req := &service.ConsentRequest{Status: "opted_out", Keyword: "  ¡SALIR! ", MsgUUID: "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41", Source: "flow"}

	first, err := e.svc.SetConsent(e.ctx, "acme", "whatsapp:5511987650001", req)
	require.NoError(t, err)
	assert.Equal(t, "opted_out", string(first.OptStatus))
	events := e.events("acme", "whatsapp:5511987650001")
	require.Len(t, events, 1)
	assert.Equal(t, []string{"flow", "salir", "spa", "5d76d86b-3bb9-4d5a-b822-c9d86f5d8e41"},
		[]string{string(events[0].Source), events[0].Keyword, events[0].Language, string(events[0].MsgUUID)})
	require.Len(t, e.webhooks("acme"), 1)

	// the flow's call retried after an opt-in made since: the same answer, and nothing changes
	_, err = e.svc.SetConsent(e.ctx, "acme", "whatsapp:5511987650001", &service.ConsentRequest{Status: "opted_in"})
	require.NoError(t, err)
	again, err := e.svc.SetConsent(e.ctx, "acme", "whatsapp:5511987650001", req)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Len(t, e.events("acme", "whatsapp:5511987650001"), 2)
	contact, err := e.svc.Contact(e.ctx, "acme", "whatsapp:5511987650001")
	require.NoError(t, err)
	assert.Equal(t, "opted_in", string(contact.OptStatus))

	for _, tc := range []struct {
		req *service.ConsentRequest
		err string
	}{
		{&service.ConsentRequest{Status: "opted_out", Source: "import"}, `source: "import" is not api or flow`},
		{&service.ConsentRequest{Status: "opted_out", MsgUUID: "1"}, `msg_uuid: "1" is not a UUID`},
		{&service.ConsentRequest{Status: "opted_out", Language: "portuguese"}, `language: "portuguese" is not an ISO 639-3 code`},
	} {
		_, err := e.svc.SetConsent(e.ctx, "acme", "whatsapp:5511987650001", tc.req)
		assert.EqualError(t, err, tc.err)
	}
}

// import-optouts reads the lists people have: semicolons (Excel in pt-BR and es), a byte order mark, schemes in
// capitals and with +, a phone column of plain numbers, and contacts listed twice, which keep their latest date (no
// date being now, the latest of all); and refuses a date in the future and a URN of a channel the workspace hasn't, by
// line.
func TestReadOptOutsCSVAsPeopleHaveThem(t *testing.T) {
	e := newEnv(t)
	e.workspace("acme", `{}`)
	list, err := service.ReadOptOutsCSV(strings.NewReader("\ufeffPhone;Name;opted_out_on\r\n" +
		"+55 11 98765-0001;Ana;2026-01-02T03:04:05Z\r\n" +
		"5511987650002;Bia;\r\n" +
		"55 (11) 98765-0001;Ana;2026-02-02T03:04:05Z\r\n" +
		"+5511987650001;Ana;2025-12-01T00:00:00Z\r\n" +
		"5511987650002;Bia;2026-01-01T00:00:00Z\r\n"))
	require.NoError(t, err)
	result, err := e.svc.ImportOptOuts(e.ctx, "acme", list, nil)
	require.NoError(t, err)
	assert.Equal(t, &service.OptOutImportResult{Rows: 5, Duplicates: 3, OptedOut: 2, NewContact: 2}, result)
	for urn, want := range map[string]time.Time{
		"whatsapp:5511987650001": time.Date(2026, 2, 2, 3, 4, 5, 0, time.UTC), // the latest of its rows
		"whatsapp:5511987650002": e.clock(),                                   // opted out now, as a row without a date says
	} {
		events := e.events("acme", urn)
		require.Len(t, events, 1, urn)
		assert.Equal(t, want, events[0].OccurredOn.UTC(), urn)
	}

	_, err = e.svc.ImportOptOuts(e.ctx, "acme", optOutList(t, "URN,name\nWHATSAPP:+5511987650003,Caio\ntel:+5511987650004,Davi\n"), nil)
	require.NoError(t, err)
	for _, urn := range []string{"whatsapp:5511987650003", "whatsapp:5511987650004"} {
		contact, err := e.svc.Contact(e.ctx, "acme", urn)
		require.NoError(t, err)
		assert.Equal(t, "opted_out", string(contact.OptStatus), urn)
	}

	_, err = service.ReadOptOutsCSV(strings.NewReader("urn,opted_out_on\n" +
		"whatsapp:5511987650001,2999-01-01T00:00:00Z\n" +
		"telegram:12345678,\n"))
	assert.EqualError(t, err, `2 bad rows, nothing imported:
line 2: opted_out_on: "2999-01-01T00:00:00Z" is in the future
line 3: urn: "telegram:12345678" is not a WhatsApp or phone number: the workspace's channel is WhatsApp`)
}

// pagedStore records the contacts of each page an import writes, and refuses the write of the page failAt (the first
// is 1), as a database might the last page of a list.
type pagedStore struct {
	store.Store
	failAt int
	pages  []int
}

var errRefused = errors.New("the database refused the page")

func (s *pagedStore) CommitPages(ctx context.Context, fn func(write func(*store.Change) error) error) error {
	return s.Store.CommitPages(ctx, func(write func(*store.Change) error) error {
		return fn(func(c *store.Change) error {
			if s.pages = append(s.pages, len(c.Contacts)); len(s.pages) == s.failAt {
				return errRefused
			}
			return write(c)
		})
	})
}

// An opt-out list is imported a page at a time, so that a list of millions isn't held, and still all or nothing: a
// page refused after others were written leaves nothing of any, and a contact listed on the first page and again on
// the last keeps the latest date.
func TestImportOptOutsInPages(t *testing.T) {
	paged := &pagedStore{failAt: 3}
	e := newEnvWith(t, func(s store.Store) store.Store { paged.Store = s; return paged })
	e.workspace("acme", `{}`)
	e.importFile("acme", "../../shared/rapidpro-exports/rating_10.json")
	waiting := "whatsapp:5511900000001"
	contact := e.message("acme", waiting, "rating").Contact.UUID

	var csv strings.Builder
	csv.WriteString("urn,opted_out_on\n")
	fmt.Fprintf(&csv, "%s,2026-01-01T00:00:00Z\n", waiting)
	for i := range 2*service.BatchSize + 499 {
		fmt.Fprintf(&csv, "whatsapp:55119%07d,2026-01-01T00:00:00Z\n", i)
	}
	fmt.Fprintf(&csv, "%s,2026-03-01T00:00:00Z\n", waiting)

	_, err := e.svc.ImportOptOuts(e.ctx, "acme", optOutList(t, csv.String()), nil)
	assert.ErrorIs(t, err, errRefused)
	assert.Equal(t, []int{service.BatchSize, service.BatchSize, 500}, paged.pages)
	counts, err := e.store.CountContacts(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, store.ContactCounts{Contacts: 1}, counts["acme"], "nothing imported but the contact who wrote before")
	assert.Zero(t, len(e.events("acme", "")), "no audit row")
	_, err = e.store.WaitingSession(e.ctx, "acme", contact)
	assert.NoError(t, err, "its session still waits")

	paged.failAt, paged.pages = 0, nil
	var progress []int
	result, err := e.svc.ImportOptOuts(e.ctx, "acme", optOutList(t, csv.String()), func(n int) { progress = append(progress, n) })
	require.NoError(t, err)
	assert.Equal(t, &service.OptOutImportResult{Rows: 2501, Duplicates: 1, OptedOut: 2500, NewContact: 2499}, result)
	assert.Equal(t, []int{service.BatchSize, service.BatchSize, 500}, paged.pages)
	assert.Equal(t, []int{1000, 2000, 2500}, progress)
	counts, err = e.store.CountContacts(e.ctx)
	require.NoError(t, err)
	assert.Equal(t, store.ContactCounts{Contacts: 2500, OptedOut: 2500}, counts["acme"])
	events := e.events("acme", waiting)
	require.Len(t, events, 1)
	assert.Equal(t, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), events[0].OccurredOn.UTC(), "the date of its last row")
	_, err = e.store.WaitingSession(e.ctx, "acme", contact)
	assert.ErrorIs(t, err, store.ErrNotFound, "the opt-out ended its session")
}
