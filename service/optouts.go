package service

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/modifiers"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/internal/sanitize"
	"github.com/optout-dev/optout/keywords"
	"github.com/optout-dev/optout/store"
)

// ConsentRequest is the body of a consent change made through the API: by the business (source api, the default),
// or by a flow of a platform without the plugin that calls the API when a contact says a keyword (source flow), as
// flows/optout_portable.json does.
type ConsentRequest struct {
	Status   consent.Status `json:"status"`
	Keyword  string         `json:"keyword,omitempty"`  // what the contact said, when a keyword made the change
	Language string         `json:"language,omitempty"` // of the keyword, or the contact's
	MsgUUID  string         `json:"msg_uuid,omitempty"` // of the message that made the change: sent again, it changes nothing
	Source   store.Source   `json:"source,omitempty"`
}

// SetConsent opts a contact out or back in, creating the contact if the workspace doesn't know its URN yet. It changes
// the contact as a keyword would, without the reply, audited with the request's source. A keyword is read with the
// workspace's catalog, so that the audit log and the webhook carry it normalized, with its language, as they would
// for a keyword the interceptor caught. A request with a message UUID is answered once: the same again gets the same
// answer and changes nothing, as a flow's webhook call may be retried.
func (s *Service) SetConsent(ctx context.Context, workspaceID string, rawURN string, req *ConsentRequest) (*ContactView, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	urn, err := parseURN(rawURN)
	if err != nil {
		return nil, &Error{Kind: Invalid, Field: "urn", Err: err}
	}
	source, keyword, language, err := checkConsent(w.cfg, req)
	if err != nil {
		return nil, err
	}
	answerKey := ""
	if req.MsgUUID != "" {
		answerKey = "consent:" + req.MsgUUID // apart from messages' own UUIDs, which POST .../messages answers
	}

	unlock, err := s.cluster.LockContact(ctx, w.ID, urn)
	if err != nil {
		return nil, storeError(err)
	}
	defer unlock()
	contact, lastInbound, answer, err := s.loadForMessage(ctx, w, urn, "", flows.InputUUID(answerKey))
	if err != nil {
		return nil, err
	} else if answer != nil {
		return readContactView(answer)
	}
	c := s.begin(w, contact, lastInbound, engine.OriginReply)
	c.msgUUID = flows.InputUUID(req.MsgUUID)
	if _, err := s.setConsent(ctx, c, req.Status, source, keyword, language); err != nil {
		return nil, err
	}
	view := w.view(contact, lastInbound, true)
	if answerKey != "" {
		c.change.Message = &store.ProcessedMessage{UUID: flows.InputUUID(answerKey), Response: jsonx.MustMarshal(view)}
	}
	if err := s.commit(ctx, c); errors.Is(err, store.ErrConflict) {
		answer, err := s.store.ProcessedMessage(ctx, w.ID, flows.InputUUID(answerKey))
		if err != nil {
			return nil, storeError(err)
		}
		return readContactView(answer)
	} else if err != nil {
		return nil, err
	}
	return view, nil
}

// readContactView reads the answer a consent request with a message UUID was given.
func readContactView(answer []byte) (*ContactView, error) {
	view := &ContactView{}
	if err := json.Unmarshal(answer, view); err != nil {
		return nil, fmt.Errorf("reading a consent request's answer: %w", err)
	}
	return view, nil
}

// checkConsent checks a ConsentRequest, returning its source, and its keyword and language as the audit log keeps
// them.
func checkConsent(cfg *config.Config, req *ConsentRequest) (store.Source, string, i18n.Language, error) {
	source := req.Source
	switch source {
	case "":
		source = store.SourceAPI
	case store.SourceAPI, store.SourceFlow:
	default:
		return "", "", "", newError(Unprocessable, "source", "%s is not api or flow", quote.Q(string(source)))
	}
	if req.Status != consent.OptedOut && req.Status != consent.OptedIn {
		return "", "", "", newError(Unprocessable, "status", "%s is not opted_out or opted_in", quote.Q(string(req.Status)))
	}
	if req.MsgUUID != "" && !uuidRegex.MatchString(req.MsgUUID) {
		return "", "", "", newError(Unprocessable, "msg_uuid", "%s is not a UUID", quote.Q(req.MsgUUID))
	}
	language := i18n.Language(req.Language)
	if language != "" {
		if _, err := i18n.ParseLanguage(req.Language); err != nil {
			return "", "", "", newError(Unprocessable, "language", "%s is not an ISO 639-3 code", quote.Q(req.Language))
		}
	}
	keyword := sanitize.Text(req.Keyword)
	if utf8.RuneCountInString(keyword) > MaxNameLength {
		return "", "", "", newError(Unprocessable, "keyword", "is longer than %d characters", MaxNameLength)
	}
	if keyword != "" {
		if m := cfg.Keywords.Match(keyword, language); m.Intent != keywords.None {
			keyword, language = m.Keyword, m.Language
		}
	}
	return source, keyword, language, nil
}

// OptOutView is an opted-out contact in a listing.
type OptOutView struct {
	UUID       flows.ContactUUID `json:"uuid"`
	URN        urns.URN          `json:"urn"`
	Name       string            `json:"name"`
	Language   string            `json:"language"`
	OptedOutOn time.Time         `json:"opted_out_on"`
}

// OptOuts returns a page of the workspace's opted-out contacts after the cursor, and the cursor of the next page.
func (s *Service) OptOuts(ctx context.Context, workspaceID string, after int64, limit int) ([]*OptOutView, string, error) {
	return listPage(s, ctx, workspaceID, limit,
		func() ([]*store.Contact, error) { return s.store.OptedOut(ctx, workspaceID, after, limit) },
		func(c *store.Contact) *OptOutView {
			return &OptOutView{UUID: c.UUID, URN: c.URN, Name: c.Name, Language: string(c.Language), OptedOutOn: c.OptChangedOn}
		},
		func(c *store.Contact) int64 { return c.ID })
}

// CSVHeader is the header of the opt-out list as export-optouts writes it and import-optouts reads it. Only urn is
// required when importing.
var CSVHeader = []string{"urn", "uuid", "name", "language", "opted_out_on"}

// WriteOptOutsCSV writes all of the workspace's opted-out contacts as CSV, a page at a time, calling progress with the
// count so far after each page.
func (s *Service) WriteOptOutsCSV(ctx context.Context, workspaceID string, out io.Writer, progress func(int)) error {
	if _, err := s.workspace(ctx, workspaceID); err != nil {
		return err // before writing anything, so that the API can still answer with an error
	}
	w := csv.NewWriter(out)
	if err := w.Write(CSVHeader); err != nil {
		return err
	}
	written := 0
	for after := int64(0); ; {
		page, next, err := s.OptOuts(ctx, workspaceID, after, BatchSize)
		if err != nil {
			return err
		}
		for _, o := range page {
			var when string
			if !o.OptedOutOn.IsZero() {
				when = o.OptedOutOn.Format(time.RFC3339Nano)
			}
			if err := w.Write([]string{string(o.URN), string(o.UUID), asText(o.Name), o.Language, when}); err != nil {
				return err
			}
		}
		written += len(page)
		if progress != nil {
			progress(written)
		}
		if next == "" {
			break
		}
		after, _ = strconv.ParseInt(next, 10, 64)
	}
	w.Flush()
	return w.Error()
}

// OptOutList is an opt-out list that ReadOptOutsCSV checked, which ImportOptOuts reads again a page at a time: a list
// of millions is never held, only the line each contact is first on and what its other rows add to it.
type OptOutList struct {
	in    io.ReadSeeker
	start int64     // where the list begins in in
	now   time.Time // which opted_out_on is checked against, the same both times the list is read

	rows     int // duplicates included
	contacts int
	first    urnLines
	// the latest opted_out_on of the other rows of each contact listed more than once, by the line of its first
	latest map[int]time.Time
}

// Len is how many contacts the list has, each listed once or more.
func (l *OptOutList) Len() int { return l.contacts }

// optOutRow is a row of an opt-out list being imported.
type optOutRow struct {
	Line       int
	URN        urns.URN
	Name       string
	Language   i18n.Language
	OptedOutOn time.Time // zero: now
}

// ReadOptOutsCSV checks an opt-out list as people have them: comma- or semicolon-separated (what spreadsheets write in
// locales whose decimal mark is a comma), with or without a byte order mark, with a urn column (any spelling of a
// WhatsApp or phone number, scheme in any case) or a phone column of plain numbers, taken as WhatsApp numbers. A
// contact listed twice is imported once, with the latest opted_out_on. Every row is checked: the error lists each bad
// row by its line number, so that one round of fixes is enough. Columns other than those of CSVHeader are ignored. The
// list is read from where in is, and ImportOptOuts reads it again from there.
func ReadOptOutsCSV(in io.ReadSeeker) (*OptOutList, error) {
	start, err := in.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	l := &OptOutList{in: in, start: start, now: time.Now(), first: newURNLines(), latest: map[int]time.Time{}}
	err = readOptOutRows(in, l.now, func(row *optOutRow) error {
		l.rows++
		first, listed := l.first.add(row.URN, row.Line)
		if !listed {
			l.contacts++
			return nil
		}
		// the list has the contact twice: it opted out when the latest row says, as it is still out
		if when, ok := l.latest[first]; ok {
			l.latest[first] = latest(when, row.OptedOutOn)
		} else {
			l.latest[first] = row.OptedOutOn
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// pages reads the list again, from where ReadOptOutsCSV did, and gives fn its contacts a page of size at a time, each
// as its first row, with the latest opted_out_on of its rows.
func (l *OptOutList) pages(size int, fn func([]*optOutRow) error) error {
	if _, err := l.in.Seek(l.start, io.SeekStart); err != nil {
		return err
	}
	page := make([]*optOutRow, 0, size)
	rows := 0
	err := readOptOutRows(l.in, l.now, func(row *optOutRow) error {
		rows++
		if first := l.first.line(row.URN); first != row.Line {
			if first == 0 {
				return errListChanged
			}
			return nil // a duplicate, which its contact's first row stands for
		}
		if when, ok := l.latest[row.Line]; ok {
			row.OptedOutOn = latest(row.OptedOutOn, when)
		}
		if page = append(page, row); len(page) == size {
			if err := fn(page); err != nil {
				return err
			}
			page = page[:0]
		}
		return nil
	})
	if err != nil {
		return err
	}
	if rows != l.rows {
		return errListChanged
	}
	if len(page) > 0 {
		return fn(page)
	}
	return nil
}

// errListChanged is the error of a list that reads otherwise the second time, when it is imported, than it did when
// it was checked.
var errListChanged = errors.New("the list changed while it was imported, nothing imported")

// latest is the later of two opt-out times, the zero time being now, the latest of all.
func latest(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if b.After(a) {
		return b
	}
	return a
}

// readOptOutRows reads the rows of an opt-out list, giving fn each good one, checking opted_out_on against now. An
// error of fn's stops the reading and is returned; otherwise the error is that of the list's bad rows.
func readOptOutRows(in io.Reader, now time.Time, fn func(*optOutRow) error) error {
	l, err := openContactList(in)
	if err != nil {
		return err
	}
	return l.each(func(r *listRow, record []string) (string, error) {
		row := &optOutRow{Line: r.line, URN: r.urn, Name: r.name, Language: r.language}
		if when := l.get(record, "opted_out_on"); when != "" {
			var err error
			if row.OptedOutOn, err = time.Parse(time.RFC3339Nano, when); err != nil {
				return fmt.Sprintf("opted_out_on: %s is not an RFC 3339 time", quote.Q(when)), nil
			}
			if row.OptedOutOn.After(now) {
				return fmt.Sprintf("opted_out_on: %s is in the future", quote.Q(when)), nil
			}
		}
		return "", fn(row)
	})
}

// OptOutImportResult counts what an opt-out import did.
type OptOutImportResult struct {
	Rows       int `json:"rows"`
	Duplicates int `json:"duplicates"`   // rows of a contact listed before in the file
	OptedOut   int `json:"opted_out"`    // contacts whose status changed
	Unchanged  int `json:"unchanged"`    // already opted out
	NewContact int `json:"new_contacts"` // URNs the workspace didn't know
}

// ImportOptOuts opts out every contact of the list in one change, so that a failure imports nothing. The change is
// made and written a page of contacts at a time, in one transaction, so that what a list of millions holds at once is
// a page of it. The changes are audited with source import and notify no webhook: the business already has the
// list. progress is called with the contacts imported so far.
func (s *Service) ImportOptOuts(ctx context.Context, workspaceID string, list *OptOutList, progress func(int)) (*OptOutImportResult, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	started, at := time.Now(), s.now()
	result := &OptOutImportResult{Rows: list.rows, Duplicates: list.rows - list.contacts}
	imported := 0
	err = s.store.CommitPages(ctx, func(write func(*store.Change) error) error {
		return list.pages(BatchSize, func(page []*optOutRow) error {
			// dated as one change, as it is one
			change := &store.Change{Workspace: w.ID, At: at}
			err := forEachContact(ctx, s, w, page, func(r *optOutRow) urns.URN { return r.URN }, func(r *optOutRow, rec *store.Contact) error {
				if rec == nil {
					result.NewContact++
				}
				changed, err := s.importRow(ctx, w, change, rec, r)
				if err != nil {
					return fmt.Errorf("line %d: %w", r.Line, err)
				}
				if changed {
					result.OptedOut++
				} else {
					result.Unchanged++
				}
				return nil
			}, nil)
			if err != nil {
				return err
			}
			if err := write(change); err != nil {
				return err
			}
			if imported += len(page); progress != nil {
				progress(imported)
			}
			return nil
		})
	})
	if err != nil {
		return nil, storeError(err)
	}
	s.log.Info("imported opt-outs", "workspace", w.ID, "rows", result.Rows, "duplicates", result.Duplicates, "opted_out", result.OptedOut,
		"unchanged", result.Unchanged, "new_contacts", result.NewContact, "elapsed_ms", time.Since(started).Milliseconds())
	return result, nil
}

// importRow opts one contact out, as an opt-out through the API would, dating the change as the row does, and adds
// it to the import's change.
func (s *Service) importRow(ctx context.Context, w *workspace, change *store.Change, rec *store.Contact, r *optOutRow) (bool, error) {
	contact, lastInbound, err := s.contactOf(w, rec, r.URN, r.Name)
	if err != nil {
		return false, err
	}
	if contact.Language() == "" && r.Language != "" {
		contact.SetLanguage(r.Language)
	}
	c := s.begin(w, contact, lastInbound, engine.OriginReply)
	changed, err := s.setConsent(ctx, c, consent.OptedOut, store.SourceImport, "", r.Language)
	if err != nil {
		return false, err
	}
	if changed && !r.OptedOutOn.IsZero() {
		c.change.Consent[0].OccurredOn = r.OptedOutOn.UTC()
		if field := w.sa.Fields().Get(consent.ChangedOnField); field != nil {
			mod := modifiers.NewField(field, r.OptedOutOn.UTC().Format(time.RFC3339Nano))
			if _, err := modifiers.Apply(ctx, s.eng, w.env, w.sa, contact, mod, func(flows.Event) {}); err != nil {
				return false, err
			}
		}
	}
	if err := s.settle(c); err != nil {
		return false, err
	}
	change.Contacts = append(change.Contacts, c.change.Contacts...)
	change.Consent = append(change.Consent, c.change.Consent...)
	change.EndSessions = append(change.EndSessions, c.change.EndSessions...)
	return changed, nil
}
