package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	code, stdout, _ := optout("")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "flows validate")

	code, _, stderr := optout("", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `unknown command "frobnicate"`)

	for _, cmd := range [][]string{{"check"}, {"simulate"}, {"flows", "validate"}} {
		code, _, stderr := optout("", append(cmd, "--help")...)
		assert.Equal(t, 0, code, cmd)
		assert.Contains(t, stderr, "Usage: optout "+strings.Join(cmd, " "), cmd)
	}

	code, _, stderr = optout("", "check")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "no TEXT to check")

	code, _, stderr = optout("", "check", "--contact-language", "por", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "flag provided but not defined: -contact-language")
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

	code, stdout, stderr = optout("", "flows", "validate", "../../flows/optout.json", notJSON, badAction, filepath.Join(dir, "missing.json"))
	assert.Equal(t, 1, code)
	assert.Equal(t, "../../flows/optout.json: ok (1 flows, 2 fields, 1 groups, 0 triggers, 0 campaigns)\n", stdout)
	assert.Contains(t, stderr, notJSON+": invalid: isn't valid JSON")
	assert.Contains(t, stderr, badAction+`: invalid: flows[0] "Bad": nodes[0]: unable to read action[0]: unknown type: 'opt_outt'`)
	assert.Contains(t, stderr, "missing.json: invalid: open ")
	assert.Contains(t, stderr, "optout flows validate: 3 of 4 files are invalid\n")
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
`, stdout)
	assert.Equal(t, deps+`: invalid: group bcc696e9-dfb7-48ee-8c63-e1518ac1037a can't be created: it has no name to create it with (used by "Registration")
`+deps+`: invalid: flow "Child" 7a4ef740-6c63-4adf-bd6f-218f529525ae isn't in the export (used by "Registration")
`+deps+`: invalid: field created_on can't be created: key 'created_on' is reserved (used by "Reminder")
optout flows validate: 1 of 1 files are invalid
`, stderr)
}

func TestSimulate(t *testing.T) {
	code, stdout, stderr := optout("Olá\nPARAR\nsair\n#voltar\n", "simulate", "--flow", "../../flows/optout.json")
	assert.Equal(t, 0, code, stderr)

	lines := strings.Split(stdout, "\n")
	assert.Equal(t, `Chatting with "Opt-Out" as a contact speaking por. Opt out with parar, sair, #optout, come back with #receber, #voltar.`, lines[0])
	assert.Contains(t, stdout, `  field optout_status = "opted_out"
`)
	assert.Contains(t, stdout, `  joined group "Opted Out"
  consent_changed: undefined -> opted_out (keyword "parar", por): the host sends the webhook
< Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!
< Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!
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
	assert.Equal(t, `Chatting with "Favorites" as a contact speaking eng. Opt out with exit, stop, #optout, come back with #start.
< What is your favorite color?
< Good choice, I like Blue too! What is your favorite beer?
  field optout_status = "opted_out"
`, stdout[:strings.Index(stdout, "  field optout_changed_on")])
	assert.Contains(t, stdout, `< Seu pedido para sair da conversa foi atendido. Favor enviar #voltar para retornar!
  (the flow was waiting and is interrupted: no flow goes on talking to a contact who left)
< What is your favorite color?
`)
}

// A --db that is not a PostgreSQL URL is refused at start, naming --db, and creates nothing: it used to become an
// embedded store in a directory named after it.
func TestStoreSettingsRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"serve", "--db", "mysql://root@localhost/optout"},
		{"serve", "--db", "postgres//localhost/optout"},
		{"serve", "--db", "host=localhost dbname=optout password=hunter2"},
		{"import-optouts", "--workspace", "acme", "--db", "sqlite:optout.db", "optouts.csv"},
		{"export-optouts", "--workspace", "acme", "--db", "postgress://localhost/optout"},
		{"serve", "--redis", "localhost:6379"},
	} {
		code, stdout, stderr := optout("", args...)
		assert.Equal(t, 2, code, "%v: %s", args, stderr)
		assert.Empty(t, stdout)
		flag := "--db"
		if args[1] == "--redis" {
			flag = "--redis"
		}
		assert.Contains(t, stderr, "optout "+args[0]+": "+flag+": ", args)
		assert.NotContains(t, stderr, "hunter2", "a password is never repeated")
		entries, err := os.ReadDir(".")
		require.NoError(t, err)
		assert.Empty(t, entries, "%v created something", args)
	}

	t.Setenv("OPTOUT_DB", "mysql://root@localhost/optout")
	code, _, stderr := optout("", "serve")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "optout serve: --db: ")
}
