package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
)

// readmePrelude runs before README's examples. curl is README's curl, but an answer outside 2xx fails the script, and
// it fills in the placeholders README's text explains (BROADCAST_ID and CURSOR from the last broadcast's answer,
// EVENT_ID from the last listing of webhooks), as a reader would.
const readmePrelude = `set -euo pipefail
answer=$(mktemp)
BROADCAST_ID= CURSOR= EVENT_ID=
curl() {
	local args=() a
	for a in "$@"; do
		a=${a//BROADCAST_ID/$BROADCAST_ID}; a=${a//CURSOR/$CURSOR}; a=${a//EVENT_ID/$EVENT_ID}
		args+=("$a")
	done
	local code
	code=$(command curl -sS -o "$answer" -w '%{http_code}' "${args[@]}")
	printf '%s %s\n%s\n' "$code" "${args[*]}" "$(cat "$answer")"
	if [ "$code" -lt 200 ] || [ "$code" -ge 300 ]; then
		echo "README's example answered $code: ${args[*]}" >&2
		exit 1
	fi
	case "${args[*]}" in
	*"POST "*"/broadcasts"*) BROADCAST_ID=$(grep -o '"id":"[^"]*"' "$answer" | head -1 | cut -d'"' -f4)
		CURSOR=$(grep -o '"next":"[^"]*"' "$answer" | cut -d'"' -f4 || true) ;;
	*"/webhooks?"*) EVENT_ID=$(grep -o '"id":"[^"]*"' "$answer" | head -1 | cut -d'"' -f4) ;;
	esac
}
`

// TestREADME runs README's shell examples, in order, against optout serve on the embedded store, on a machine with no
// network (the example's webhook URL doesn't resolve), with go run ./cmd/optout as the built binary. The quick start
// and the test setup are left out: this is the test command.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if block := m[1]; !strings.Contains(block, "go test") && !strings.Contains(block, "export OPTOUT_TEST") {
			blocks = append(blocks, block)
		}
	}
	require.Len(t, blocks, 5, "the API's, connecting WhatsApp, moving opt-out lists, validating flows, and the import commands")

	dir := t.TempDir()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	require.NoError(t, os.Symlink(filepath.Join(root, "flows"), filepath.Join(dir, "flows")))
	srv := testenv.StartServe(t, map[string]string{"OPTOUT_ADMIN_TOKEN": "the-admin-token", "OPTOUT_DATA_DIR": filepath.Join(dir, "data")})

	script := readmePrelude + strings.Join(blocks, "\n")
	script = strings.ReplaceAll(script, "API=http://127.0.0.1:8080", "API="+srv.URL)
	script = strings.ReplaceAll(script, "go run ./cmd/optout", testenv.Binary(t))
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(withoutEnv(os.Environ(), "OPTOUT_DB"), "OPTOUT_DATA_DIR="+filepath.Join(dir, "data"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	// what README says the examples answer
	for _, want := range []string{
		`"intent":"opt_out","language":"por","handled":true`,
		`{"changed":2,"unchanged":0,"new_contacts":1}`,
		`{"changed":0,"unchanged":1,"new_contacts":0}`,
		`"dry_run":true,"sent":1,"skipped":{"opted_out":1,"window_closed":0},"total":2`,
		`"dry_run":false,"sent":0,"skipped":{"opted_out":1,"window_closed":1},"total":2`,
		`{"redis":"not configured","store":"ok"}`,
		"\n1158201444\n", // the challenge, on its own
		`{"kept":1}`,
		"flows/optout.json: ok",
	} {
		assert.True(t, strings.Contains(string(out), want), "README says an example answers %s; they answered:\n%s", want, out)
	}
}
