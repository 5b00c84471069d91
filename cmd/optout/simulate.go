package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/nyaruka/gocommon/dates"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/goflow/flows/events"
	"github.com/nyaruka/goflow/flows/resumes"
	"github.com/nyaruka/goflow/flows/triggers"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/export"
	"github.com/optout-dev/optout/fixtures"
	"github.com/optout-dev/optout/keywords"
)

// simulatorURN is the WhatsApp number of the simulated contact.
const simulatorURN = urns.URN("whatsapp:5500000000000")

func newSimulateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "simulate --flow FILE [flags]",
		Short: "Chat with a flow in the terminal with the plugin active",
		Long: "Chats with a flow of FILE in the terminal, as a WhatsApp contact of a workspace that imported it, with the\n" +
			"plugin active: every line you type is a message, checked by the interceptor before the flow sees it.\n" +
			"Prints the replies (<) and the contact's field and group changes. The flow starts when the simulation\n" +
			"does, and again on the next message once it has ended. Empty lines are no message. Ends with the input\n" +
			"(Ctrl-D, or Ctrl-C on a terminal).\n\n" +
			"On a terminal, lines can be edited and earlier ones recalled with the arrow keys. Input from a pipe or a\n" +
			"file is echoed after a >, so that the output reads as a transcript of the chat.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unexpected argument %q: the flow is given with --flow FILE", args[0])
			}
			return nil
		},
	}
	flowFile := cmd.Flags().String("flow", "", "export or flow definition `FILE` to chat with (required)")
	flowName := cmd.Flags().String("flow-name", "", "`NAME` of the flow of FILE to chat with, when it isn't the first")
	noInterceptor := cmd.Flags().Bool("no-interceptor", false, "send messages straight to the flow, to try a flow that handles keywords itself, such as flows/optout_portable.json")
	contactLang := languageFlag(cmd.Flags(), "contact-lang", "por", "the contact's language `LANG` (ISO 639-3)")
	configFile := cmd.Flags().String("config", "", "workspace configuration `FILE` (defaults when not given)")
	if err := cmd.MarkFlagRequired("flow"); err != nil {
		panic(err) // the flag was just added
	}

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
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
		flow, err := pickFlow(exp, *flowName)
		if err != nil {
			return fmt.Errorf("%s: %w", *flowFile, err)
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
		contact, err := flows.NewContact(sa, flows.NewContactUUID(), 0, "Simulator", *contactLang, flows.ContactStatusActive,
			nil, dates.Now(), nil, []urns.URN{simulatorURN}, nil, nil, nil, assets.IgnoreMissing)
		if err != nil {
			return err
		}

		sim := &simulator{
			sa:      sa,
			env:     env,
			eng:     engine.NewBuilder().Build(),
			contact: contact,
			flow:    assets.NewFlowReference(flow.UUID, flow.Name),
		}
		if !*noInterceptor {
			sim.interceptor = engine.NewInterceptor(sim.eng)
		}

		in, out := cmd.InOrStdin(), cmd.OutOrStdout()
		if !isTerminal(in) || !isTerminal(out) {
			sim.out, sim.echo = out, true
			return sim.run(cmd.Context(), scanLines(in))
		}
		terminal, restore, err := openTerminal(in.(*os.File), out.(*os.File))
		if err != nil {
			return err
		}
		defer restore()
		sim.out = terminal
		return sim.run(cmd.Context(), terminal.ReadLine)
	}
	return cmd
}

// pickFlow returns the flow of the export with the name, or its first flow when name is empty.
func pickFlow(exp *export.Export, name string) (*export.Flow, error) {
	if len(exp.Flows) == 0 {
		return nil, errors.New("has no flows")
	}
	if name == "" {
		return exp.Flows[0], nil
	}
	names := make([]string, len(exp.Flows))
	for i, f := range exp.Flows {
		// RapidPro keeps flow names unique regardless of case
		if strings.EqualFold(f.Name, name) {
			return f, nil
		}
		names[i] = strconv.Quote(f.Name)
	}
	return nil, fmt.Errorf("has no flow named %q: its flows are %s", name, strings.Join(names, ", "))
}

// scanLines reads lines from a pipe or a file.
func scanLines(r io.Reader) func() (string, error) {
	lines := bufio.NewScanner(r)
	return func() (string, error) {
		if lines.Scan() {
			return lines.Text(), nil
		}
		if err := lines.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
}

// openTerminal puts the terminal in raw mode, for a line editor with history to read it, and returns the editor,
// which is also what to write to while it is in use, and a function that restores the terminal.
func openTerminal(in, out *os.File) (*term.Terminal, func(), error) {
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil, nil, err
	}
	restore := func() { term.Restore(int(in.Fd()), state) }
	terminal := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, out}, "> ")
	terminal.History = &history{}
	// a terminal that doesn't know its size says 0, which would wrap every character: the editor's 80 columns do then
	if width, height, err := term.GetSize(int(out.Fd())); err == nil && width > 0 && height > 0 {
		if err := terminal.SetSize(width, height); err != nil {
			restore()
			return nil, nil, err
		}
	}
	return terminal, restore, nil
}

type simulator struct {
	sa          flows.SessionAssets
	env         envs.Environment
	eng         flows.Engine
	interceptor *engine.Interceptor // nil when messages go straight to the flow
	contact     *flows.Contact
	flow        *assets.FlowReference
	out         io.Writer
	echo        bool // write what the contact says, which a terminal shows as it's typed

	session flows.Session // the contact's session, until a new one replaces it
}

// run chats until readLine returns io.EOF.
func (s *simulator) run(ctx context.Context, readLine func() (string, error)) error {
	if s.interceptor != nil {
		fmt.Fprintf(s.out, "Chatting with %q as a contact speaking %s. Opt out with %s, come back with %s.\n",
			s.flow.Name, s.contact.Language(), strings.Join(s.examples(keywords.OptOut), ", "), strings.Join(s.examples(keywords.OptIn), ", "))
	} else {
		fmt.Fprintf(s.out, "Chatting with %q as a contact speaking %s, without the interceptor: the flow gets every message.\n",
			s.flow.Name, s.contact.Language())
	}

	if err := s.start(ctx, triggers.NewBuilder(s.flow).Manual().Build()); err != nil {
		return err
	}

	for {
		text, err := readLine()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		if s.echo {
			fmt.Fprintf(s.out, "> %s\n", text)
		}
		if err := s.receive(ctx, text); err != nil {
			return err
		}
	}
}

// receive handles a message as the service does: the interceptor first, then the waiting session, else a new one.
func (s *simulator) receive(ctx context.Context, text string) error {
	msg := events.NewMsgReceived(flows.NewMsgIn(simulatorURN, nil, text, nil, ""), "")

	if s.interceptor != nil {
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

// history keeps the lines sent for the arrow keys to recall, as a shell does: not empty lines, which are no message,
// nor a line that is the one before again.
type history struct {
	lines []string // the most recent last
}

var _ term.History = (*history)(nil)

func (h *history) Add(line string) {
	if strings.TrimSpace(line) == "" || (len(h.lines) > 0 && h.lines[len(h.lines)-1] == line) {
		return
	}
	h.lines = append(h.lines, line)
}

func (h *history) Len() int        { return len(h.lines) }
func (h *history) At(i int) string { return h.lines[len(h.lines)-1-i] }

// isTerminal says whether v is a file open on a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
