package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/cluster"
	"github.com/optout-dev/optout/metrics"
	"github.com/optout-dev/optout/service"
	"github.com/optout-dev/optout/store"
	"github.com/optout-dev/optout/webhook"
)

// optout runs the command line as the binary would and returns its exit code and output.
func optout(stdin string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCheck(t *testing.T) {
	code, stdout, stderr := optout("", "check", "PARAR", "  ¡Salir! ", "#Voltar", "voltar", "quero parar de receber", "#optout")
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, `{"text":"PARAR","intent":"opt_out","language":"por","keyword":"parar"}
{"text":"  ¡Salir! ","intent":"opt_out","language":"spa","keyword":"salir"}
{"text":"#Voltar","intent":"opt_in","language":"por","keyword":"#voltar"}
{"text":"voltar","intent":"none","language":"","keyword":""}
{"text":"quero parar de receber","intent":"none","language":"","keyword":""}
{"text":"#optout","intent":"opt_out","language":"por","keyword":"#optout"}
`, stdout)

	code, stdout, _ = optout("", "check", "--contact-lang", "eng", "#optout", "#START")
	assert.Equal(t, 0, code)
	assert.Equal(t, `{"text":"#optout","intent":"opt_out","language":"eng","keyword":"#optout"}
{"text":"#START","intent":"opt_in","language":"eng","keyword":"#start"}
`, stdout)
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, []byte(`{"keywords": {"opt_out": {"add": {"por": ["chega"]}, "remove": {"por": ["sair"]}}}}`), 0o600))
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"keywords": {"opt_out": {"add": {"por": ["#voltar"]}}}}`), 0o600))

	code, stdout, _ := optout("", "check", "--config", good, "Chega!", "sair")
	assert.Equal(t, 0, code)
	assert.Equal(t, `{"text":"Chega!","intent":"opt_out","language":"por","keyword":"chega"}
{"text":"sair","intent":"none","language":"","keyword":""}
`, stdout)

	code, stdout, stderr := optout("", "check", "--config", bad, "parar")
	assert.Equal(t, 1, code)
	assert.Equal(t, "", stdout)
	assert.Equal(t, "optout check: "+bad+`: keywords: keyword "#voltar" is configured for both opt_out and opt_in`+"\n", stderr)
}

func TestUsage(t *testing.T) {
	// optout alone is a mistake: the usage goes to stderr, and it exits 2 as the go command does
	code, stdout, stderr := optout("")
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "Available Commands:")
	assert.Contains(t, stderr, "  flows ")

	// asked for, help goes to stdout
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		code, stdout, _ := optout("", args...)
		assert.Equal(t, 0, code, args)
		assert.Contains(t, stdout, "Available Commands:", args)
	}

	code, _, stderr = optout("", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Equal(t, "optout: unknown command \"frobnicate\"\nRun 'optout --help' for usage.\n", stderr)
	code, _, stderr = optout("", "chek", "PARAR")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unknown command "chek" (did you mean check?)`)

	for _, cmd := range [][]string{{"check"}, {"simulate"}, {"flows", "validate"}, {"serve"}, {"import"}, {"import-contacts"}, {"import-optouts"}, {"export-optouts"}, {"version"}} {
		code, stdout, stderr := optout("", append(cmd, "--help")...)
		assert.Equal(t, 0, code, cmd)
		assert.Contains(t, stdout, "Usage:\n  optout "+strings.Join(cmd, " "), cmd)
		assert.Empty(t, stderr, cmd)
	}

	code, _, stderr = optout("", "check")
	assert.Equal(t, 2, code)
	assert.Equal(t, "optout check: no TEXT to check\nRun 'optout check --help' for usage.\n", stderr)

	code, _, stderr = optout("", "check", "--contact-language", "por", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "optout check: unknown flag: --contact-language\n")

	code, _, stderr = optout("", "simulate", "--contact-lang", "eng")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `optout simulate: required flag(s) "flow" not set`)

	code, _, stderr = optout("", "import-optouts", "--workspace", "acme")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "optout import-optouts: takes one FILE (- for standard input), not 0")
}

// A command that holds subcommands answers --help with its subcommands, and being called alone or with one it
// doesn't have with its usage and 2.
func TestGroupCommand(t *testing.T) {
	code, stdout, stderr := optout("", "flows", "--help")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "Available Commands:\n  validate ")

	code, stdout, stderr = optout("", "flows")
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "Available Commands:\n  validate ")

	code, _, stderr = optout("", "flows", "valdate", "flows/optout.json")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `optout flows: unknown command "valdate" (did you mean validate?)`)
}

// Flags go anywhere among the arguments, as they do in the tools people know: the flag package stopped at the first
// argument and took the rest for TEXTs.
func TestFlagsAfterArguments(t *testing.T) {
	code, stdout, stderr := optout("", "check", "#optout", "--contact-lang", "eng")
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, `{"text":"#optout","intent":"opt_out","language":"eng","keyword":"#optout"}
`, stdout)

	// -- ends the flags, for a TEXT that starts with a dash
	code, stdout, stderr = optout("", "check", "--contact-lang", "eng", "--", "--stop")
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, `{"text":"--stop","intent":"opt_out","language":"eng","keyword":"stop"}
`, stdout)

	code, stdout, stderr = optout("", "flows", "validate", "../../flows/optout.json", "--json")
	assert.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasPrefix(stdout, `{"file":"../../flows/optout.json","ok":true`), stdout)
}

func TestContactLangRefused(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"check", "--contact-lang", "en", "stop"}, `optout check: --contact-lang: "en" is not an ISO 639-3 language code (did you mean "eng"?)`},
		{[]string{"check", "stop", "--contact-lang", "english"}, `optout check: --contact-lang: "english" is not an ISO 639-3 language code`},
		{[]string{"check", "--contact-lang", "xyz", "stop"}, `optout check: --contact-lang: "xyz" is not an ISO 639-3 language code`},
		{[]string{"simulate", "--flow", "../../flows/optout.json", "--contact-lang", "pt"}, `optout simulate: --contact-lang: "pt" is not an ISO 639-3 language code (did you mean "por"?)`},
	} {
		code, stdout, stderr := optout("", tc.args...)
		assert.Equal(t, 2, code, tc.args)
		assert.Empty(t, stdout, tc.args)
		assert.Equal(t, tc.stderr+"\nRun 'optout "+tc.args[0]+" --help' for usage.\n", stderr, tc.args)
	}

	// a code in capitals is the code
	code, stdout, stderr := optout("", "check", "--contact-lang", "ENG", "#optout")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, `"language":"eng"`)
}

func TestVersion(t *testing.T) {
	goMod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	goflow := regexp.MustCompile(`(?m)^\s*github\.com/nyaruka/goflow (v\S+)`).FindSubmatch(goMod)
	require.NotNil(t, goflow, "go.mod requires goflow")
	want := "optout (devel)\ngoflow " + string(goflow[1]) + "\n" // a test binary is a development build

	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := optout("", args...)
		assert.Equal(t, 0, code, stderr)
		assert.Equal(t, want, stdout, args)
	}
	code, _, _ := optout("", "version", "extra")
	assert.Equal(t, 2, code)
}

func TestFlowsValidate(t *testing.T) {
	real, err := filepath.Glob("../../../shared/rapidpro-exports/*.json")
	require.NoError(t, err)
	require.Len(t, real, 12, "the shared exports are beside the repository")

	args := append([]string{"flows", "validate", "../../flows/optout.json", "../../flows/optout_portable.json"}, real...)
	code, stdout, stderr := optout("", args...)
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "../../flows/optout.json: ok (1 flows, 2 fields, 1 groups, 0 triggers, 0 campaigns)\n")
	assert.Contains(t, stdout, "survey_campaign.json: ok (1 flows, 1 fields, 1 groups, 0 triggers, 1 campaigns)\n")
	assert.Equal(t, 14, strings.Count(stdout, ": ok ("))

	// what the flows use and the export doesn't carry is listed after its file's ok, by type, name and UUID
	assert.Contains(t, stdout, `cataclysm.json: ok (2 flows, 2 fields, 5 groups, 0 triggers, 0 campaigns)
`+real[1]+`: warning: channel "Telegram: TextItBot" bd55bb31-8ed4-4f89-b903-7103aa3762be isn't in the export (used by "Cataclysmic")
`)
	assert.Contains(t, stdout, `whatsapp_template.json: warning: template "affirmation" f712e05c-bbed-40f1-b3d9-671bb9b60775 isn't in the export (used by "Template Flow")`)

	dir := t.TempDir()
	notJSON := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notJSON, []byte("hello"), 0o600))
	badAction := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(badAction, []byte(`{"version": "13", "flows": [{"uuid": "8e2b8d29-1a0e-4a3f-9a3e-0c3f7a1b2c3d", "name": "Bad",
		"spec_version": "13.0.0", "language": "eng", "type": "messaging", "nodes": [{"uuid": "5b2a4e1c-3d9f-4c8a-b6e7-1f2a3b4c5d6e",
		"actions": [{"uuid": "6c3b5f2d-4e0a-4d9b-87f8-2a3b4c5d6e7f", "type": "opt_outt"}], "exits": [{"uuid": "7d4c6a3e-5f1b-4eac-98a9-3b4c5d6e7f80"}]}]}]}`), 0o600))

	// ok and invalid files are told on one stream, in order; why it exits 1 on the other
	code, stdout, stderr = optout("", "flows", "validate", "../../flows/optout.json", notJSON, badAction, filepath.Join(dir, "missing.json"))
	assert.Equal(t, 1, code)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 4, stdout)
	assert.Equal(t, "../../flows/optout.json: ok (1 flows, 2 fields, 1 groups, 0 triggers, 0 campaigns)", lines[0])
	assert.Equal(t, notJSON+":1:1: invalid: isn't valid JSON: invalid character 'h' looking for beginning of value", lines[1])
	assert.Equal(t, badAction+`: invalid: flows[0] "Bad": nodes[0]: unable to read action[0]: unknown type: 'opt_outt'`, lines[2])
	assert.True(t, strings.HasPrefix(lines[3], filepath.Join(dir, "missing.json")+": invalid: open "), lines[3])
	assert.Equal(t, "optout flows validate: 3 of 4 files are invalid\n", stderr)
}

// A file that isn't JSON is named with the line and column of its first mistake, as editors and compilers name them.
// Columns count bytes, as the Go toolchain's do: á is two.
func TestFlowsValidateSyntaxPosition(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		at      string
	}{
		{"{\n  \"version\": \"13\",\n  \"flows\": [],\n}\n", ":4:1: invalid: isn't valid JSON: invalid character '}' looking for beginning of object key string"},
		{"{\"version\": \"13\",\n \"site\": \"Olá\" \"flows\": []}", `:2:17: invalid: isn't valid JSON: invalid character '"' after object key:value pair`},
		{"{\"version\": \"13\",\n \"flows\": [", ":2:11: invalid: isn't valid JSON: unexpected end of JSON input"},
	} {
		path := filepath.Join(dir, "broken.json")
		require.NoError(t, os.WriteFile(path, []byte(tc.content), 0o600))
		code, stdout, _ := optout("", "flows", "validate", path)
		assert.Equal(t, 1, code)
		assert.Equal(t, path+tc.at+"\n", stdout)
	}
}

func TestFlowsValidateJSON(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	require.NoError(t, os.WriteFile(broken, []byte("{\n  \"flows\": [,]\n}"), 0o600))
	deps := "../../export/testdata/dependencies.json"

	code, stdout, stderr := optout("", "flows", "validate", "--json", "../../flows/optout.json", broken, deps)
	assert.Equal(t, 1, code)
	assert.Equal(t, "optout flows validate: 2 of 3 files are invalid\n", stderr)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, 3, "one JSON object a line per file")

	assert.JSONEq(t, `{"file": "../../flows/optout.json", "ok": true, "counts": {"flows": 1, "fields": 2, "groups": 1, "triggers": 0, "campaigns": 0},
		"dependencies": [], "errors": []}`, lines[0])
	assert.JSONEq(t, `{"file": "`+broken+`", "ok": false, "dependencies": [],
		"errors": [{"message": "isn't valid JSON: invalid character ',' looking for beginning of value", "line": 2, "column": 13}]}`, lines[1])

	var report struct {
		File         string `json:"file"`
		OK           bool   `json:"ok"`
		Dependencies []struct {
			Type     string `json:"type"`
			Identity string `json:"identity"`
			Name     string `json:"name"`
			UsedBy   []struct {
				UUID string `json:"uuid"`
				Name string `json:"name"`
			} `json:"used_by"`
			Effect  string `json:"effect"`
			Problem string `json:"problem"`
		} `json:"dependencies"`
		Errors []struct {
			Message string `json:"message"`
			Line    int    `json:"line"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &report))
	assert.Equal(t, deps, report.File)
	assert.False(t, report.OK)
	require.Len(t, report.Dependencies, 9, "what the text lists, refused ones included")
	first := report.Dependencies[0]
	assert.Equal(t, "group", first.Type)
	assert.Equal(t, "a18fff36-b1f9-483b-854e-72794904cc80", first.Identity)
	assert.Equal(t, "Customers", first.Name)
	assert.Equal(t, "create", first.Effect)
	require.Len(t, first.UsedBy, 2)
	assert.Equal(t, "Registration", first.UsedBy[0].Name)
	assert.NotEmpty(t, first.UsedBy[0].UUID)

	// the errors are the text's invalid lines, without the path
	_, text, _ := optout("", "flows", "validate", deps)
	var invalid []string
	for line := range strings.Lines(text) {
		if msg, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), deps+": invalid: "); ok {
			invalid = append(invalid, msg)
		}
	}
	require.Len(t, invalid, 3)
	require.Len(t, report.Errors, 3)
	for i, e := range report.Errors {
		assert.Equal(t, invalid[i], e.Message)
		assert.Zero(t, e.Line, "only syntax errors have a position")
	}
}

func TestFlowsValidateDependencies(t *testing.T) {
	// import creates the groups and fields that flows use, as RapidPro does, so the export is valid
	dir := t.TempDir()
	creates := filepath.Join(dir, "creates.json")
	require.NoError(t, os.WriteFile(creates, []byte(`{"version": "13", "flows": [{"uuid": "8e2b8d29-1a0e-4a3f-9a3e-0c3f7a1b2c3d", "name": "Join",
		"spec_version": "13.0.0", "language": "eng", "type": "messaging", "nodes": [{"uuid": "5b2a4e1c-3d9f-4c8a-b6e7-1f2a3b4c5d6e",
		"actions": [{"uuid": "6c3b5f2d-4e0a-4d9b-87f8-2a3b4c5d6e7f", "type": "add_contact_groups", "groups": [{"uuid": "83452c2e-d6e4-4fae-950a-156064e40068", "name": "Customers"}]},
		{"uuid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "type": "send_msg", "text": "Welcome, @fields.first_name"}],
		"exits": [{"uuid": "7d4c6a3e-5f1b-4eac-98a9-3b4c5d6e7f80"}]}]}]}`), 0o600))

	code, stdout, stderr := optout("", "flows", "validate", creates)
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, creates+`: ok (1 flows, 0 fields, 0 groups, 0 triggers, 0 campaigns)
`+creates+`: creates group "Customers" 83452c2e-d6e4-4fae-950a-156064e40068 (used by "Join")
`+creates+`: creates field first_name (used by "Join")
`, stdout)
	assert.Equal(t, "", stderr)

	// a flow that isn't there, or a group or field that can't be created, makes it invalid
	deps := "../../export/testdata/dependencies.json"
	code, stdout, stderr = optout("", "flows", "validate", deps)
	assert.Equal(t, 1, code)
	assert.Equal(t, deps+`: creates group "Customers" a18fff36-b1f9-483b-854e-72794904cc80 (used by "Registration", "Reminder")
`+deps+`: creates field "Age" age (used by "Registration")
`+deps+`: warning: channel "Android" 8ca1afbe-26d4-40ca-9fb4-cee2fde33869 isn't in the export (used by "Registration")
`+deps+`: warning: label "Interesting" c3495890-7e0f-4b2f-a0fb-4f79abcbe264 isn't in the export (used by "Registration")
`+deps+`: creates field nickname (used by "Registration")
`+deps+`: warning: global org_name isn't in the export (used by "Reminder")
`+deps+`: invalid: group bcc696e9-dfb7-48ee-8c63-e1518ac1037a can't be created: it has no name to create it with (used by "Registration")
`+deps+`: invalid: flow "Child" 7a4ef740-6c63-4adf-bd6f-218f529525ae isn't in the export (used by "Registration")
`+deps+`: invalid: field created_on can't be created: key 'created_on' is reserved (used by "Reminder")
`, stdout)
	assert.Equal(t, "optout flows validate: 1 of 1 files are invalid\n", stderr)
}

func TestSimulate(t *testing.T) {
	code, stdout, stderr := optout("Olá\nPARAR\nsair\n#voltar\n", "simulate", "--flow", "../../flows/optout.json")
	assert.Equal(t, 0, code, stderr)

	lines := strings.Split(stdout, "\n")
	assert.Equal(t, `Chatting with "Opt-Out" as a contact speaking por. Opt out with parar, parar promoções, sair, #optout, come back with #receber, #voltar.`, lines[0])
	assert.Contains(t, stdout, `  field optout_status = "opted_out"
`)
	assert.Contains(t, stdout, `  joined group "Opted Out"
  consent_changed: undefined -> opted_out (keyword "parar", por): the host sends the webhook
< Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!
> sair
< Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!
> #voltar
`, "saying it twice changes nothing the second time")
	assert.Contains(t, stdout, `  field optout_status = "opted_in"
`)
	assert.Contains(t, stdout, `  left group "Opted Out"
  consent_changed: opted_out -> opted_in (keyword "#voltar", por): the host sends the webhook
< Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!
`)
}

func TestSimulateInterruptsWaitingFlow(t *testing.T) {
	code, stdout, stderr := optout("blue\nparar\nred\n", "simulate", "--flow", "../../../shared/rapidpro-exports/favorites_v13.json", "--contact-lang", "eng")
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, `Chatting with "Favorites" as a contact speaking eng. Opt out with exit, stop, stop promotions, #optout, come back with #start.
< What is your favorite color?
> blue
< Good choice, I like Blue too! What is your favorite beer?
> parar
  field optout_status = "opted_out"
`, stdout[:strings.Index(stdout, "  field optout_changed_on")])
	assert.Contains(t, stdout, `< Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!
  (the flow was waiting and is interrupted: no flow goes on talking to a contact who left)
> red
< What is your favorite color?
`)
}

// Piped input is echoed, so that the output reads as the chat did, and empty lines are no message: they used to
// reach the waiting flow as an empty answer.
func TestSimulateTranscript(t *testing.T) {
	code, stdout, stderr := optout("\n   \nblue\r\n\nprimus\n", "simulate", "--flow", "../../../shared/rapidpro-exports/favorites_v13.json", "--contact-lang", "eng")
	assert.Equal(t, 0, code, stderr)
	assert.Equal(t, `Chatting with "Favorites" as a contact speaking eng. Opt out with exit, stop, stop promotions, #optout, come back with #start.
< What is your favorite color?
> blue
< Good choice, I like Blue too! What is your favorite beer?
> primus
< Mmmmm... delicious Primus. If only they made blue Primus! Lastly, what is your name?
`, stdout)
}

func TestSimulateFlowName(t *testing.T) {
	export := "../../../shared/rapidpro-exports/cataclysm.json"
	code, stdout, stderr := optout("", "simulate", "--flow", export, "--flow-name", "catastrophe")
	assert.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasPrefix(stdout, `Chatting with "Catastrophe" as`), stdout)

	code, stdout, _ = optout("", "simulate", "--flow", export)
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(stdout, `Chatting with "Cataclysmic" as`), "the first flow without --flow-name")

	code, stdout, stderr = optout("", "simulate", "--flow", export, "--flow-name", "Cat")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Equal(t, "optout simulate: "+export+`: has no flow named "Cat": its flows are "Cataclysmic", "Catastrophe"`+"\n", stderr)
}

// --no-interceptor tries a flow on its own: the portable flow handles the keywords itself, and sends no consent event.
func TestSimulateNoInterceptor(t *testing.T) {
	code, stdout, stderr := optout("Olá\nPARAR\n#voltar\n", "simulate", "--flow", "../../flows/optout_portable.json", "--no-interceptor")
	assert.Equal(t, 0, code, stderr)
	assert.True(t, strings.HasPrefix(stdout, `Chatting with "Opt-Out (portable)" as a contact speaking por, without the interceptor: the flow gets every message.
`), stdout)
	inOrder := []string{
		"> PARAR\n",
		`  field optout_status = "opted_out"` + "\n",
		`  joined group "Opted Out"` + "\n",
		"< Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!\n",
		"> #voltar\n",
		`  field optout_status = "opted_in"` + "\n",
		`  left group "Opted Out"` + "\n",
		"< Seu pedido de retornar à conversa foi atendido! Bem vindo de volta!\n",
	}
	rest := stdout
	for _, line := range inOrder {
		i := strings.Index(rest, line)
		require.GreaterOrEqual(t, i, 0, "%q doesn't follow in:\n%s", line, stdout)
		rest = rest[i+len(line):]
	}
	assert.NotContains(t, stdout, "consent_changed")

	// with the interceptor, it takes PARAR before the flow sees it
	code, stdout, _ = optout("PARAR\n", "simulate", "--flow", "../../flows/optout_portable.json")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "consent_changed: undefined -> opted_out")
}

// A flag on the command line wins over its variable, which wins over the default. A variable that isn't what its
// flag wants is refused as a value on the command line is, naming the flag, before anything is opened.
func TestSettingsFromEnvironment(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("OPTOUT_WEBHOOK_WORKERS", "eight")
	t.Setenv("OPTOUT_SHUTDOWN_TIMEOUT", " 10 ")
	t.Setenv("OPTOUT_REDIS", "localhost:6379")

	code, stdout, stderr := optout("", "serve", "--db", "mysql://root@localhost/optout")
	assert.Equal(t, 2, code)
	assert.Empty(t, stdout)
	assert.Equal(t, `optout serve: --webhook-workers: "eight" from OPTOUT_WEBHOOK_WORKERS is not a whole number
optout serve: --shutdown-timeout: "10" from OPTOUT_SHUTDOWN_TIMEOUT is not a duration such as 30s or 5m
optout serve: --db: `+store.CheckPostgresURL("mysql://root@localhost/optout").Error()+`
optout serve: --redis: `+cluster.CheckURL("localhost:6379").Error()+`
Run 'optout serve --help' for usage.
`, stderr)

	// given on the command line, the variables aren't read
	code, _, stderr = optout("", "serve", "--webhook-workers=4", "--shutdown-timeout", "1s", "--redis", "redis://127.0.0.1:6379", "--db", "mysql://root@localhost/optout")
	assert.Equal(t, 2, code)
	assert.Equal(t, "optout serve: --db: "+store.CheckPostgresURL("mysql://root@localhost/optout").Error()+"\nRun 'optout serve --help' for usage.\n", stderr)

	code, _, stderr = optout("", "serve", "--webhook-workers", "four")
	assert.Equal(t, 2, code)
	assert.Equal(t, "optout serve: --webhook-workers: \"four\" is not a whole number\nRun 'optout serve --help' for usage.\n", stderr)

	code, _, stderr = optout("", "serve", "--webhook-workers=4", "--shutdown-timeout=1s", "--redis=", "--log-level", "loud")
	assert.Equal(t, 2, code)
	assert.Equal(t, "optout serve: --log-level: \"loud\" is not debug, info, warn or error\nRun 'optout serve --help' for usage.\n", stderr)

	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is opened or created")
}

// --help names each setting's variable, and shows the built-in defaults rather than the variables' values: a password
// in OPTOUT_DB is not printed.
func TestSettingsHelp(t *testing.T) {
	t.Setenv("OPTOUT_DB", "postgres://optout:hunter2@db.example.com/optout")
	t.Setenv("OPTOUT_ADDR", "0.0.0.0:9090")
	for _, cmd := range []*cobra.Command{newServeCommand(), newImportOptOutsCommand(), newExportOptOutsCommand()} {
		code, stdout, stderr := optout("", cmd.Name(), "--help")
		assert.Equal(t, 0, code, stderr)
		assert.NotContains(t, stdout, "hunter2")
		assert.NotContains(t, stdout, "9090")

		settings := 0
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" || f.Name == "workspace" || f.Name == "output" {
				return
			}
			settings++
			env := "OPTOUT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
			assert.Regexp(t, `(?m)^\s+--`+f.Name+` .*\(env `+env+`\)`, stdout, "%s --%s", cmd.Name(), f.Name)
		})
		assert.GreaterOrEqual(t, settings, 3, cmd.Name())
	}
}

// The import commands read a file, or standard input for -, into a workspace of the embedded store, as README's
// examples do.
func TestImportCommands(t *testing.T) {
	dir := t.TempDir()

	// a workspace, made by the service's own code, as serve's API would
	st, err := store.Open(t.Context(), dir)
	require.NoError(t, err)
	coord, err := cluster.New("", st, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	svc := service.New(service.Options{Store: st, Cluster: coord, Policy: &webhook.Policy{}, Metrics: &metrics.Registry{}, Log: slog.New(slog.DiscardHandler)})
	_, _, err = svc.PutWorkspace(t.Context(), "clinic", &service.WorkspaceRequest{})
	require.NoError(t, err)
	coord.Close()
	st.Close()

	code, stdout, stderr := optout("", "import", "--workspace", "clinic", "--data-dir", dir, "../../flows/optout_portable.json")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, `"flows":1`)

	code, stdout, stderr = optout("urn,name,groups,field:plan\nwhatsapp:5511987650001,Ana,Pacientes,gold\n", "import-contacts", "--workspace", "clinic", "--data-dir", dir, "-")
	require.Equal(t, 0, code, stderr)
	assert.JSONEq(t, `{"rows":1,"new_contacts":1,"created_groups":["Pacientes"],"created_fields":["plan"]}`, stdout)

	code, stdout, stderr = optout("phone;name\n5511987650001;Ana\n5511987650002;Bia\n", "import-optouts", "--workspace", "clinic", "--data-dir", dir, "-")
	require.Equal(t, 0, code, stderr)
	assert.JSONEq(t, `{"rows":2,"duplicates":0,"opted_out":2,"unchanged":0,"new_contacts":1}`, stdout)

	code, _, stderr = optout("urn\nnope\n", "import-optouts", "--workspace", "clinic", "--data-dir", dir, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `-: 1 bad rows, nothing imported:`)
}
