package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nyaruka/gocommon/dates"
	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/resumes"
	"github.com/nyaruka/goflow/flows/triggers"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/fixtures"
	"github.com/optout-dev/optout/keywords"
)

// simulatorURN is the WhatsApp number of the simulated contact.
const simulatorURN = urns.URN("whatsapp:5500000000000")

func runSimulate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("simulate", "--flow FILE [--contact-lang LANG] [--config FILE]",
		"Chats with the first flow of FILE in the terminal, as a WhatsApp contact of a workspace that imported it, with\n"+
			"the plugin active: every line you type is a message, checked by the interceptor before the flow sees it.\n"+
			"Prints the replies (<) and the contact's field and group changes. The flow starts when the simulation\n"+
			"does, and again on the next message once it has ended. Ends with the input (Ctrl-D).", stderr)
	flowFile := fs.String("flow", "", "export or flow definition `FILE` to chat with")
	contactLang := fs.String("contact-lang", "por", "the contact's language `LANG` (ISO 639-3)")
	configFile := fs.String("config", "", "workspace configuration `FILE` (defaults when not given)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *flowFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "optout simulate: --flow FILE is required and takes no other arguments")
		fs.Usage()
		return errUsage
	}

	cfg, err := loadConfig(*configFile)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*flowFile)
	if err != nil {
		return err
	}
	exp, err := export.Read(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *flowFile, err)
	}
	if len(exp.Flows) == 0 {
		return fmt.Errorf("%s has no flows", *flowFile)
	}
	extra, err := fixtures.Extra(exp)
	if err != nil {
		return err
	}
	src, err := exp.Source(extra)
	if err != nil {
		return err
	}

	env := engine.NewEnvironment(cfg)
	sa, err := engine.NewSessionAssets(env, src, cfg)
	if err != nil {
		return err
	}
	contact, err := flows.NewContact(sa, flows.NewContactUUID(), 0, "Simulator", i18n.Language(*contactLang), flows.ContactStatusActive,
		nil, dates.Now(), nil, []urns.URN{simulatorURN}, nil, nil, nil, assets.IgnoreMissing)
	if err != nil {
		return err
	}

	sim := &simulator{
		sa:          sa,
		env:         env,
		eng:         engine.NewBuilder().Build(),
		contact:     contact,
		flow:        assets.NewFlowReference(exp.Flows[0].UUID, exp.Flows[0].Name),
		out:         stdout,
		interactive: isTerminal(stdin),
	}
	sim.interceptor = engine.NewInterceptor(sim.eng)
	return sim.run(context.Background(), stdin)
}

type simulator struct {
	sa          flows.SessionAssets
	env         envs.Environment
	eng         flows.Engine
	interceptor *engine.Interceptor
	contact     *flows.Contact
	flow        *assets.FlowReference
	out         io.Writer
	interactive bool

	session flows.Session // the contact's session, until a new one replaces it
}

func (s *simulator) run(ctx context.Context, stdin io.Reader) error {
	fmt.Fprintf(s.out, "Chatting with %q as a contact speaking %s. Opt out with %s, come back with %s.\n",
		s.flow.Name, s.contact.Language(), strings.Join(s.examples(keywords.OptOut), ", "), strings.Join(s.examples(keywords.OptIn), ", "))

	if err := s.start(ctx, triggers.NewBuilder(s.flow).Manual().Build()); err != nil {
		return err
	}

	lines := bufio.NewScanner(stdin)
	for s.prompt(); lines.Scan(); s.prompt() {
		if err := s.receive(ctx, lines.Text()); err != nil {
			return err
		}
	}
	return lines.Err()
}

// receive handles a message as the service does: the interceptor first, then the waiting session, else a new one.
func (s *simulator) receive(ctx context.Context, text string) error {
	msg := events.NewMsgReceived(flows.NewMsgIn(simulatorURN, nil, text, nil, ""), "")

	res, err := s.interceptor.Intercept(ctx, s.sa, s.env, s.contact, msg)
	if err != nil {
		return err
	}
	if res.Handled() {
		s.print(res.Events)
		if res.Match.Intent == keywords.OptOut && s.waiting() {
			fmt.Fprintln(s.out, "  (the flow was waiting and is interrupted: no flow goes on talking to a contact who left)")
			s.session = nil
		}
		return nil
	}

	if !s.waiting() {
		return s.start(ctx, triggers.NewBuilder(s.flow).MsgReceived(msg).Build())
	}
	sprint, err := s.session.Resume(ctx, resumes.NewMsg(msg))
	if err != nil {
		return err
	}
	s.print(sprint.Events())
	s.ended()
	return nil
}

func (s *simulator) start(ctx context.Context, trigger flows.Trigger) error {
	session, sprint, err := s.eng.NewSession(ctx, s.sa, s.env, s.contact, trigger, nil)
	if err != nil {
		return err
	}
	s.session = session
	s.print(sprint.Events())
	s.ended()
	return nil
}

func (s *simulator) waiting() bool {
	return s.session != nil && s.session.Status() == flows.SessionStatusWaiting
}

func (s *simulator) ended() {
	if !s.waiting() {
		fmt.Fprintf(s.out, "  (flow %s)\n", s.session.Status())
	}
}

func (s *simulator) print(evts []flows.Event) {
	for _, e := range evts {
		switch e := e.(type) {
		case *events.MsgCreated:
			fmt.Fprintf(s.out, "< %s\n", e.Msg.Text())
		case *events.ContactFieldChanged:
			value := ""
			if e.Value != nil {
				value = e.Value.Text.Native()
			}
			fmt.Fprintf(s.out, "  field %s = %q\n", e.Field.Key, value)
		case *events.ContactGroupsChanged:
			for _, g := range e.GroupsAdded {
				fmt.Fprintf(s.out, "  joined group %q\n", g.Name)
			}
			for _, g := range e.GroupsRemoved {
				fmt.Fprintf(s.out, "  left group %q\n", g.Name)
			}
		case *consent.Changed:
			fmt.Fprintf(s.out, "  %s: %s -> %s (keyword %q, %s): the host sends the webhook\n", e.Type(), orUndefined(e.PreviousStatus), e.Status, e.Keyword, e.Language)
		case *events.Error:
			fmt.Fprintf(s.out, "  error: %s\n", e.Text)
		case *events.Failure:
			fmt.Fprintf(s.out, "  failure: %s\n", e.Text)
		}
	}
}

func (s *simulator) prompt() {
	if s.interactive {
		fmt.Fprint(s.out, "> ")
	}
}

// examples returns the keywords of an intent in the contact's language and of any language, to show at the start.
func (s *simulator) examples(intent keywords.Intent) []string {
	words := config.For(s.sa).Keywords.Keywords(intent)
	return append(words[s.contact.Language()], words[keywords.AnyLanguage]...)
}

func orUndefined(s consent.Status) string {
	if s == consent.Undefined {
		return "undefined"
	}
	return string(s)
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
