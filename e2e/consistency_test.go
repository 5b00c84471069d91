package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/optout-dev/optout/internal/testenv"
)

// TestEveryWriterIsSeen: a consent change made by any process, with any flags, is seen by the next decision of a
// running service. import-optouts run without --redis beside a service that has Redis is the case that broke: the
// service trusted an opted-out set in Redis that the import never told.
func TestEveryWriterIsSeen(t *testing.T) {
	db := testenv.PostgresSchema(t)
	rs := testenv.StartRedis(t)
	srv := testenv.StartServe(t, map[string]string{"OPTOUT_DB": db, "OPTOUT_REDIS": rs.URL(), "OPTOUT_ADMIN_TOKEN": adminToken})
	admin := &client{t: t, base: srv.URL, token: adminToken}
	ws := "ws-" + string(uuids.NewV4())[:8]
	status, body := admin.do("PUT", "/v1/workspaces/"+ws, map[string]any{"templates": map[string]string{"promo": "MARKETING"}})
	require.Equal(t, http.StatusCreated, status, body)

	listed := []string{"whatsapp:5511987650101", "whatsapp:5511987650102", "whatsapp:5511987650103"}
	promo := func(urnz []string) []any {
		status, body := admin.do("POST", "/v1/workspaces/"+ws+"/broadcasts", map[string]any{"urns": urnz, "template": map[string]string{"name": "promo"}, "dry_run": true})
		require.Equal(t, http.StatusOK, status, body)
		decisions := []any{}
		for i := range urnz {
			decisions = append(decisions, jsonPath(body, "recipients", i, "decision"))
		}
		return decisions
	}
	for _, urn := range listed {
		status, body := admin.do("POST", "/v1/workspaces/"+ws+"/messages", map[string]string{"uuid": string(uuids.NewV4()), "urn": urn, "text": "oi"})
		require.Equal(t, http.StatusOK, status, body)
	}
	require.Equal(t, []any{"send", "send", "send"}, promo(listed))
	redisReady(t, srv.URL)

	// import-optouts as README shows it: the store's flags only, no Redis
	csv := filepath.Join(t.TempDir(), "optouts.csv")
	require.NoError(t, os.WriteFile(csv, []byte("urn\n"+strings.Join(listed, "\n")+"\n"), 0o600))
	cmd := exec.Command(testenv.Binary(t), "import-optouts", "--workspace", ws, "--db", db, csv)
	cmd.Env = withoutEnv(os.Environ(), "OPTOUT_REDIS")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	assert.Equal(t, []any{"skip", "skip", "skip"}, promo(listed), "the running service sees the import at once")

	// an opt-in through the API while Redis is unreachable, and a decision after it comes back
	rs.Kill()
	status, body = admin.do("POST", "/v1/workspaces/"+ws+"/contacts/"+listed[0]+"/consent", map[string]string{"status": "opted_in"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, []any{"send", "skip", "skip"}, promo(listed), "while Redis is down")
	rs.Start()
	assert.Equal(t, []any{"send", "skip", "skip"}, promo(listed), "the moment Redis is back")
	redisReady(t, srv.URL)
	assert.Equal(t, []any{"send", "skip", "skip"}, promo(listed), "once the service uses Redis again")

	// and an opt-out made through the API while Redis is down, then an import of nothing new with Redis back
	rs.Kill()
	status, body = admin.do("POST", "/v1/workspaces/"+ws+"/contacts/"+listed[0]+"/consent", map[string]string{"status": "opted_out"})
	require.Equal(t, http.StatusOK, status, body)
	rs.Start()
	assert.Equal(t, []any{"skip", "skip", "skip"}, promo(listed), "the moment Redis is back")
	redisReady(t, srv.URL)
	assert.Equal(t, []any{"skip", "skip", "skip"}, promo(listed), "once the service uses Redis again")
}

// redisReady waits until the service says it uses Redis, and then for two of its checks of Redis (one a second),
// after which any state it kept in Redis would be in use: what follows is decided with Redis in the path. (When the
// service kept opted-out sets in Redis, this is what made the test see the import go unnoticed.)
func redisReady(t *testing.T, url string) {
	defer time.Sleep(2500 * time.Millisecond)
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var checks map[string]string
		return json.NewDecoder(resp.Body).Decode(&checks) == nil && checks["redis"] == "ok"
	}, 30*time.Second, 50*time.Millisecond, "the service never used Redis")
}

// withoutEnv returns the environment without the variable.
func withoutEnv(env []string, name string) []string {
	var kept []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			kept = append(kept, kv)
		}
	}
	return kept
}
