package testsuite

import (
	"cmp"
	"context"
	"os"
	"testing"

	"github.com/nyaruka/mailroom/v26/core/goflow"
	"github.com/nyaruka/mailroom/v26/core/models"
	"github.com/nyaruka/mailroom/v26/runtime"
	"github.com/stretchr/testify/require"
)

// what the opt-out tests make that ResetData doesn't remove
const sqlResetOptout = `
DELETE FROM api_webhookevent WHERE resthook_id >= 30000;
DELETE FROM contacts_contactfield WHERE id >= 30000;`

// LocalRuntime returns a runtime for tests that need only PostgreSQL and Valkey: the opt-out tests, which run where
// LocalStack, Elasticsearch and Centrifugo don't. The database must hold testdata/postgres.dump, restored with
// pg_restore; MAILROOM_TEST_DB and MAILROOM_TEST_VALKEY say where they are when it isn't where Runtime looks. History
// events and search indexing are queued to writers that are never started, so nothing is sent to the services that
// aren't there. The test's data is reset when it ends.
func LocalRuntime(t *testing.T) (context.Context, *runtime.Runtime) {
	cfg := runtime.NewDefaultConfig()
	cfg.DeploymentID = "test"
	cfg.DB = cmp.Or(os.Getenv("MAILROOM_TEST_DB"), "postgres://mailroom_test:temba@postgres/mailroom_test?sslmode=disable&Timezone=UTC")
	cfg.Valkey = cmp.Or(os.Getenv("MAILROOM_TEST_VALKEY"), "valkey://valkey:6379/10")
	cfg.SpoolDir = absPath("./_test_spool")
	require.NoError(t, cfg.Parse())

	rt, err := runtime.NewRuntime(cfg)
	require.NoError(t, err)
	_, err = rt.DB.Exec("SELECT * FROM orgs_org")
	require.NoError(t, err, "restore testsuite/testdata/postgres.dump into the test database")
	rt.FCM = &MockFCMClient{ValidTokens: []string{"FCMID3", "FCMID4", "FCMID5"}}

	t.Cleanup(func() {
		rt.DB.MustExec(sqlResetOptout)
		Reset(t, rt, ResetData|ResetValkey)

		rt.DB.Close()
		rt.VK.Close()
		goflow.Reset()
		models.FlushCache()
	})
	return t.Context(), rt
}
