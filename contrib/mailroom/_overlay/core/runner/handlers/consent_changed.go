package handlers

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/flows"
	"github.com/nyaruka/mailroom/v26/core/models"
	"github.com/nyaruka/mailroom/v26/core/runner"
	"github.com/nyaruka/mailroom/v26/core/runner/hooks"
	"github.com/nyaruka/mailroom/v26/runtime"
	"github.com/optout-dev/optout/consent"
)

func init() {
	runner.RegisterEventHandler(consent.TypeChanged, handleConsentChanged)
}

// handleConsentChanged records the business's notification of a contact's opt-out or opt-in as an event of the org's
// opt-out resthook. It is written in the transaction that commits the change, so that neither is ever without the
// other, and the optout_resthooks cron posts it to the resthook's subscribers. The change itself reaches the database
// through the field and group events that come with it.
func handleConsentChanged(ctx context.Context, rt *runtime.Runtime, oa *models.OrgAssets, scene *runner.Scene, e flows.Event, userID models.UserID) error {
	event := e.(*consent.Changed)

	slog.Debug("consent changed", "contact", scene.ContactUUID(), "session", scene.SessionUUID(), "status", event.Status)

	settings, err := oa.Optout()
	if err != nil {
		return err
	}
	resthook := oa.ResthookBySlug(settings.Resthook)
	if resthook == nil {
		slog.Debug("no opt-out resthook, business not notified", "org", oa.OrgID(), "resthook", settings.Resthook)
		return nil
	}

	var urn urns.URN
	if us := scene.Contact.URNs(); len(us) > 0 {
		urn = us[0].Identity() // the URN the contact last wrote from comes first
	}
	client := consent.ClientInfo{Workspace: string(oa.Org().UUID()), Name: oa.Org().Name()}
	body, err := consent.NewNotification(event, scene.ContactUUID(), urn, client).Body()
	if err != nil {
		return fmt.Errorf("error writing consent notification: %w", err)
	}

	scene.AttachPreCommitHook(hooks.InsertWebhookEvent, models.NewWebhookEvent(oa.OrgID(), resthook.ID(), string(body), event.CreatedOn()))
	return nil
}
