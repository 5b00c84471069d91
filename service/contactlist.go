package service

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"

	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/internal/sanitize"
)

// contactList reads a CSV list of contacts, as import-optouts and import-contacts take them: a header naming the
// columns, one of them urn or phone, and a row a contact. It reads files separated by commas or by semicolons (what
// spreadsheets write where the decimal mark is a comma), with or without a byte order mark.
type contactList struct {
	*csv.Reader
	header []string
	names  []string // the columns' names as the header gives them, lowercased
	col    map[string]int
}

func openContactList(in io.Reader) (*contactList, error) {
	r, err := csvReader(in)
	if err != nil {
		return nil, err
	}
	header, err := r.Read()
	if err == io.EOF {
		return nil, errors.New("line 1: the file is empty: expected a header with a urn column")
	} else if err != nil {
		return nil, err
	}
	l := &contactList{Reader: r, header: header, names: make([]string, len(header)), col: map[string]int{}}
	for i, name := range header {
		l.names[i] = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		l.col[l.names[i]] = i
	}
	_, hasURN := l.col["urn"]
	_, hasPhone := l.col["phone"]
	if !hasURN && !hasPhone {
		return nil, fmt.Errorf("line 1: the header %s has no urn or phone column", quote.Q(strings.Join(header, string(r.Comma))))
	}
	return l, nil
}

// get returns the record's value of the named column, trimmed, or "" when the list hasn't the column.
func (l *contactList) get(record []string, name string) string {
	if i, ok := l.col[name]; ok && i < len(record) {
		return strings.TrimSpace(record[i])
	}
	return ""
}

// listRow is what every contact list has of a row: its line, its contact, and the name and language it gives.
type listRow struct {
	line     int
	urn      urns.URN
	name     string
	language i18n.Language
}

// each reads the list's rows, checking what every list has of them, and gives fn each good one with its record, for
// the problem it finds with it, if any. It returns the error of the list's bad rows, fn's problems included, if it has
// any: it keeps the first maxListedProblems, which the error lists, and counts the rest, so that a list of millions of
// bad rows is not held to be reported. An error of fn's stops the reading, and is returned.
func (l *contactList) each(fn func(row *listRow, record []string) (string, error)) error {
	var listed []string
	bad := 0
	report := func(problem string) {
		if bad++; len(listed) < maxListedProblems {
			listed = append(listed, problem)
		}
	}
	for {
		record, err := l.Read()
		if err == io.EOF {
			break
		} else if err != nil {
			report(err.Error()) // a csv.ParseError names its line
			if _, ok := err.(*csv.ParseError); ok {
				continue
			}
			break
		}
		line, _ := l.FieldPos(0)
		row, problem := l.read(record, line)
		if problem == "" {
			if problem, err = fn(row, record); err != nil {
				return err
			}
		}
		if problem != "" {
			report(fmt.Sprintf("line %d: %s", line, problem))
		}
	}
	if bad > 0 {
		return badRows(listed, bad)
	}
	return nil
}

func (l *contactList) read(record []string, line int) (*listRow, string) {
	if problem := checkFields(record, l.names); problem != "" {
		return nil, problem
	}
	row := &listRow{line: line, name: sanitize.Name(fromText(l.get(record, "name")))}
	if utf8.RuneCountInString(row.name) > MaxNameLength {
		return nil, fmt.Sprintf("name: is longer than %d characters", MaxNameLength)
	}
	urn, field, err := rowURN(l.get(record, "urn"), l.get(record, "phone"))
	if err != nil {
		return nil, field + ": " + err.Error()
	}
	row.urn = urn
	if lang := l.get(record, "language"); lang != "" {
		if _, err := i18n.ParseLanguage(lang); err != nil {
			return nil, fmt.Sprintf("language: %s is not an ISO 639-3 code", quote.Q(lang))
		}
		row.language = i18n.Language(lang)
	}
	return row, ""
}

// rowURN reads a row's contact from its urn, or else its phone, and says which column it was.
func rowURN(urn, phone string) (urns.URN, string, error) {
	field, raw := "urn", urn
	if raw == "" && phone != "" {
		field, raw = "phone", string(urns.WhatsApp.Prefix)+":"+phone
	}
	key, err := parseURN(raw)
	if err != nil {
		return urns.NilURN, field, err
	}
	if key.Scheme() != urns.WhatsApp.Prefix {
		return urns.NilURN, field, fmt.Errorf("%s is not a WhatsApp or phone number: the workspace's channel is WhatsApp", quote.Q(raw))
	}
	return key, field, nil
}

// badRows is the error of a list with n bad rows, listed being the first of them: it lists maxListedProblems at most,
// and says how many more there are.
func badRows(listed []string, n int) error {
	listed = listed[:min(len(listed), maxListedProblems)]
	if more := n - len(listed); more > 0 {
		listed = append(listed, fmt.Sprintf("... and %d more bad rows", more))
	}
	return fmt.Errorf("%d bad rows, nothing imported:\n%s", n, strings.Join(listed, "\n"))
}

// asText keeps a spreadsheet from reading a field as a formula, by OWASP's rule against CSV injection: a field that
// starts with =, +, -, @, a tab or a carriage return gets a ' before it, which spreadsheets show as text.
func asText(field string) string {
	if field != "" && strings.ContainsRune("=+-@\t\r", rune(field[0])) {
		return "'" + field
	}
	return field
}

// fromText takes off what asText put before a field, so that what export-optouts writes imports as it was.
func fromText(field string) string {
	if rest, ok := strings.CutPrefix(field, "'"); ok && asText(rest) != rest {
		return rest
	}
	return field
}

// csvReader reads a CSV file separated by commas or by semicolons, whichever its first line has more of.
func csvReader(in io.Reader) (*csv.Reader, error) {
	buffered := bufio.NewReader(in)
	first, err := buffered.Peek(64 << 10)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	r := csv.NewReader(buffered)
	if bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	return r, nil
}

// maxListedProblems is how many bad rows an import lists: enough for a round of fixes, not a wall of text.
const maxListedProblems = 100

// checkFields says what is wrong with the text of a record's fields, named as the header names their columns, which
// the store must be able to keep: each is valid UTF-8 without control characters.
func checkFields(record, names []string) string {
	for i, field := range record {
		name := fmt.Sprintf("column %d", i+1)
		if i < len(names) {
			name = names[i]
		}
		if !utf8.ValidString(field) {
			return name + ": is not valid UTF-8"
		}
		if err := sanitize.Check(field); err != nil {
			return name + ": " + err.Error()
		}
	}
	return ""
}

// urnLines maps each URN of a list to the line it is first on, in little memory for a list of millions: a WhatsApp
// number, which is what a list's URNs are, is kept as the number it is, and only another URN as its text.
type urnLines struct {
	numbers map[uint64]int
	others  map[urns.URN]int
}

func newURNLines() urnLines {
	return urnLines{numbers: map[uint64]int{}, others: map[urns.URN]int{}}
}

// add records the URN on the line, unless it was on an earlier one: it returns the line it was first on, and whether
// that was an earlier one.
func (u urnLines) add(urn urns.URN, line int) (int, bool) {
	if n, ok := number(urn); ok {
		if first, listed := u.numbers[n]; listed {
			return first, true
		}
		u.numbers[n] = line
		return line, false
	}
	if first, listed := u.others[urn]; listed {
		return first, true
	}
	u.others[urn] = line
	return line, false
}

// line is the line the URN is first on, 0 for a URN the list hasn't.
func (u urnLines) line(urn urns.URN) int {
	if n, ok := number(urn); ok {
		return u.numbers[n]
	}
	return u.others[urn]
}

// number is the number of a WhatsApp URN that is its digits and nothing else, so that the number gives back the URN.
func number(urn urns.URN) (uint64, bool) {
	digits, ok := strings.CutPrefix(string(urn), string(urns.WhatsApp.Prefix)+":")
	if !ok || digits == "" || digits[0] == '0' {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}
