// Package store is the service's data layer: workspaces and the assets they imported, contacts, the goflow sessions
// waiting for a contact's reply, the consent audit log, the webhook outbox and its delivery log, broadcasts and the
// outbox of messages to send. Every SQL statement of the service is in this package. It runs on an embedded SQLite
// database in a local directory by default, and on PostgreSQL for teams that run several instances.
package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/nyaruka/gocommon/i18n"
	"github.com/nyaruka/gocommon/urns"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/export"
)

// Errors that callers act on. Any other error is the store failing; IsUnavailable tells whether it is because the
// database can't be reached, which the API answers with 503 so that clients retry.
var (
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("already exists")
	ErrTokenInUse = errors.New("the token is another workspace's")
)

// IsUnavailable tells whether err means that the database can't be reached for now: it refuses or drops connections,
// is shutting down or restarting, is too busy to take a connection or, on SQLite, its write lock stayed taken past the
// busy timeout. A deadline that passed while waiting for it counts, and so does using a store that was closed, as one
// is on shutdown.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded),
		strings.Contains(err.Error(), "sql: database is closed"): // database/sql doesn't export it
		return true
	}
	return postgresDialect.unavailable(err) || sqliteDialect.unavailable(err)
}

// Store is the data layer. Its methods are safe for concurrent use; each one is a transaction of its own.
type Store interface {
	// Close releases the store's connections.
	Close() error

	// Ping checks that the database answers, for the health check.
	Ping(ctx context.Context) error

	// PutWorkspace creates the workspace, with the initial assets and at version 1, or updates it, bumping its
	// version, and creates the groups named in groups that the workspace doesn't have yet (with new UUIDs), all in one
	// transaction. A TokenHash that another workspace has is ErrTokenInUse, and nothing is written. It returns whether
	// the workspace was created, and sets ws's Version, CreatedOn and UpdatedOn to what it wrote.
	PutWorkspace(ctx context.Context, ws *Workspace, groups []string, initial *export.Export) (bool, error)
	// GetWorkspace returns the workspace, or ErrNotFound.
	GetWorkspace(ctx context.Context, id string) (*Workspace, error)
	// ListWorkspaces returns the IDs of all workspaces, sorted.
	ListWorkspaces(ctx context.Context) ([]string, error)
	// CountContacts returns how many contacts each workspace that has any has, and how many of them opted out.
	CountContacts(ctx context.Context) (map[string]ContactCounts, error)
	// DeleteWorkspace deletes the workspace and everything it holds, in one transaction, or returns ErrNotFound.
	DeleteWorkspace(ctx context.Context, id string) error
	// WorkspaceByToken returns the ID of the workspace whose TokenHash is tokenHash, or ErrNotFound, so that the API
	// can tell a token of another workspace from a token that is nobody's.
	WorkspaceByToken(ctx context.Context, tokenHash string) (string, error)

	// CreateGroup adds a group with the name and a new UUID to the workspace's assets, unless it has one of that name
	// (ignoring case, as goflow finds groups), and bumps its version, in one transaction. It returns whether it
	// created the group, or ErrNotFound if there's no such workspace.
	CreateGroup(ctx context.Context, workspace string, name string) (bool, error)
	// GroupCounts returns how many contacts each of the workspace's groups that has any has.
	GroupCounts(ctx context.Context, workspace string) (map[assets.GroupUUID]int, error)

	// Import adds the export's flows, fields, groups, triggers and campaigns to the workspace's assets, replacing those
	// with the same key (UUID for flows, groups and campaigns, key for fields, TriggerKey for triggers), and bumps the
	// workspace's version, in one transaction.
	Import(ctx context.Context, workspace string, exp *export.Export) error
	// Assets returns everything the workspace imported, as one export, in the order it was first imported.
	Assets(ctx context.Context, workspace string) (*export.Export, error)

	// ContactByURN returns the contact with the URN, or ErrNotFound.
	ContactByURN(ctx context.Context, workspace string, urn urns.URN) (*Contact, error)
	// ContactsByURN returns the contacts with the URNs that exist, in one query. It is how a broadcast to a list of
	// URNs reads a batch of recipients.
	ContactsByURN(ctx context.Context, workspace string, urns []urns.URN) ([]*Contact, error)
	// GroupContacts returns the members of the group with an ID greater than after, by ID, at most limit of them. It is
	// how campaigns stream a group in batches.
	GroupContacts(ctx context.Context, workspace string, group assets.GroupUUID, after int64, limit int) ([]*Contact, error)
	// GroupRecipients is GroupContacts with only what deciding whether a message may go to a contact takes. It is
	// how a broadcast streams a group.
	GroupRecipients(ctx context.Context, workspace string, group assets.GroupUUID, after int64, limit int) ([]Recipient, error)
	// OptedOut returns the opted-out contacts with an ID greater than after, by ID, at most limit of them.
	OptedOut(ctx context.Context, workspace string, after int64, limit int) ([]*Contact, error)

	// WaitingSession returns the contact's session that waits for its reply, or ErrNotFound.
	WaitingSession(ctx context.Context, workspace string, contact flows.ContactUUID) (*Session, error)

	// ProcessedMessage returns the answer given to the message with the UUID, or ErrNotFound if it wasn't processed.
	ProcessedMessage(ctx context.Context, workspace string, msg flows.InputUUID) (json.RawMessage, error)
	// MessageContact reads what handling a message needs, in one query: the answer the message with the UUID was
	// given, if it was processed already, and otherwise the contact with the URN, nil when the workspace doesn't know
	// it. A UUID that is empty was never processed.
	MessageContact(ctx context.Context, workspace string, urn urns.URN, msg flows.InputUUID) (*Contact, json.RawMessage, error)

	// Commit writes a change in one transaction. A change for a message that was already processed, or for a
	// campaign event that already fired for the contact, writes nothing and returns ErrConflict. Everything is written
	// in the change's workspace; the IDs and sequence numbers the database assigns aren't set on the change.
	Commit(ctx context.Context, c *Change) error
	// CommitPages writes one change too big to hold at once, an import's, a page at a time, in one transaction: fn
	// writes each page with write, as Commit would write it, and nothing is written unless fn returns nil. On SQLite
	// the transaction holds the write lock until fn returns, so other writers wait for it.
	CommitPages(ctx context.Context, fn func(write func(*Change) error) error) error

	// ConsentEvents returns the workspace's audit log with IDs greater than after, oldest first, at most limit of
	// them, only those of the contact with the URN if urn isn't empty.
	ConsentEvents(ctx context.Context, workspace string, urn urns.URN, after int64, limit int) ([]*ConsentEvent, error)

	// ClaimWebhooks leases up to limit webhook events that are due at now, for lease, so that no other worker takes
	// them meanwhile, and at most room[workspace] of each workspace that room names (the others have no bound), so
	// that a worker can keep one workspace from taking every delivery, and the events of workspaces with room are
	// found however many the others have queued. Events of one contact are delivered in order, so only the oldest
	// undelivered event of each contact is ever claimed.
	ClaimWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int, room map[string]int) ([]*WebhookEvent, error)
	// ReleaseWebhooks ends the leases of the events with the sequence numbers that a claim leased until leasedUntil,
	// for a worker that won't attempt them, so that they are claimable at once rather than when the lease runs out.
	ReleaseWebhooks(ctx context.Context, seqs []int64, leasedUntil time.Time) error
	// RecordAttempts adds each attempt to the delivery log and updates its event: delivered, failed for good, or due
	// again at Next, and releases the event's lease, all in one transaction.
	RecordAttempts(ctx context.Context, records []*AttemptRecord) error
	// WebhookEvent returns the event with its attempts, oldest first, or ErrNotFound.
	WebhookEvent(ctx context.Context, workspace string, id string) (*WebhookEvent, []*WebhookAttempt, error)
	// WebhookEvents returns the workspace's webhook events with sequence numbers greater than after, oldest first,
	// at most limit of them, only those with the status if it isn't empty.
	WebhookEvents(ctx context.Context, workspace string, status WebhookStatus, after int64, limit int) ([]*WebhookEvent, error)
	// OldestPendingWebhook returns when the oldest event still to be delivered was created, or the zero time.
	OldestPendingWebhook(ctx context.Context) (time.Time, error)

	// CreateBroadcast records a broadcast before its recipients are decided.
	CreateBroadcast(ctx context.Context, b *Broadcast) error
	// AddBroadcastBatch records the decisions for a batch of recipients and queues msg, unless it's nil, to every
	// recipient decided send, with the recipient's URN and ContactUUID, and adds the batch's counts to the
	// broadcast's, in one transaction. It numbers the recipients after those of earlier batches, setting their Seq, or
	// returns ErrNotFound if there's no such broadcast.
	AddBroadcastBatch(ctx context.Context, broadcast string, recipients []*BroadcastRecipient, msg *OutgoingMsg) error
	// FinishBroadcast records that all of the broadcast's recipients were decided.
	FinishBroadcast(ctx context.Context, broadcast string, finishedOn time.Time) error
	// GetBroadcast returns the broadcast, or ErrNotFound.
	GetBroadcast(ctx context.Context, workspace string, id string) (*Broadcast, error)
	// BroadcastRecipients returns the broadcast's recipients with sequence numbers greater than after, in order, at
	// most limit of them.
	BroadcastRecipients(ctx context.Context, broadcast string, after int64, limit int) ([]*BroadcastRecipient, error)

	// Outbox returns the workspace's queued messages with IDs greater than after, oldest first, at most limit.
	Outbox(ctx context.Context, workspace string, after int64, limit int) ([]*OutgoingMsg, error)

	// CampaignFired returns which of the contacts the campaign event has already fired for.
	CampaignFired(ctx context.Context, workspace string, event assets.CampaignPointUUID, contacts []flows.ContactUUID) (map[flows.ContactUUID]bool, error)

	// ReceiveWhatsApp keeps what a webhook notification from Meta brought, in one transaction: the events to act on
	// and the template changes to log. An item or change whose Key the workspace already has is a redelivery and is
	// left out. It returns how many were new.
	ReceiveWhatsApp(ctx context.Context, workspace string, items []*InboxItem, changes []*TemplateChange) (int, error)
	// ClaimInbox leases up to limit items due at now, for lease. Items about one user are acted on in order, so only
	// the oldest pending item of each user is ever claimed.
	ClaimInbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*InboxItem, error)
	// FinishInbox records an attempt at an item: done when err is empty, due again at retry when it isn't and retry
	// isn't zero, failed for good otherwise; and releases its lease.
	FinishInbox(ctx context.Context, id int64, now time.Time, err string, retry time.Time) error
	// OutboxWorkspaces returns the workspaces connected to WhatsApp that have queued messages due at now.
	OutboxWorkspaces(ctx context.Context, now time.Time) ([]string, error)
	// ClaimOutbox leases up to limit of the workspace's queued messages due at now, oldest first, for lease, counting
	// an attempt for each.
	ClaimOutbox(ctx context.Context, workspace string, now time.Time, lease time.Duration, limit int) ([]*OutgoingMsg, error)
	// ReleaseOutbox gives up the leases of claimed messages that are still queued.
	ReleaseOutbox(ctx context.Context, ids []int64) error
	// UpdateOutgoing applies what happened to a queued message, and releases its lease. It returns false, having
	// changed nothing, for a message that isn't in one of the update's From statuses or has another wamid than WAMIDWas.
	UpdateOutgoing(ctx context.Context, u *OutgoingUpdate) (bool, error)
	// FindOutgoing returns the workspace's message with the wamid, or else the one with the ID, or ErrNotFound.
	FindOutgoing(ctx context.Context, workspace, wamid string, id int64) (*OutgoingMsg, error)
	// DueTemplateChanges returns up to limit template changes not applied yet whose time has come at now.
	DueTemplateChanges(ctx context.Context, now time.Time, limit int) ([]*TemplateChange, error)
	// ApplyTemplateChange marks the change applied at now and rewrites its workspace's configuration with edit,
	// bumping the workspace's version, in one transaction. It returns false, having done nothing, for a change that
	// was applied already.
	ApplyTemplateChange(ctx context.Context, change *TemplateChange, now time.Time, edit func(config json.RawMessage) (json.RawMessage, error)) (bool, error)
	// TemplateChanges returns the workspace's templates log with IDs greater than after, oldest first, at most limit.
	TemplateChanges(ctx context.Context, workspace string, after int64, limit int) ([]*TemplateChange, error)

	// Prune deletes what is kept for a while only, done before the retention's times, a batch at a time so that no
	// table is locked for long, and says how many rows of each table it deleted. The consent audit log is never
	// pruned.
	Prune(ctx context.Context, r Retention) (map[string]int64, error)

	// LockContact takes a lock on the contact with the URN that excludes every other holder of it, in this process and,
	// on PostgreSQL, in every process on the same database, until unlock is called. It waits until ctx is done.
	// It is the lock of last resort, for when Redis is not there.
	LockContact(ctx context.Context, workspace string, urn urns.URN) (unlock func(), err error)
}

// Workspace is a tenant of the service: a business with its own configuration, assets and contacts.
type Workspace struct {
	ID            string          // as in the API's URLs
	Name          string          // sent to the webhook as the client's name
	Config        json.RawMessage // the config.Document as the API received it
	WebhookURL    string
	WebhookSecret string
	TokenHash     string // hex SHA-256 of the workspace's API token, empty when it has none
	Version       int64  // bumped by every change to the workspace or its assets, so instances know to reload
	CreatedOn     time.Time
	UpdatedOn     time.Time

	// WhatsApp is the workspace's WhatsApp connection as the service keeps it, secrets included; nil without one.
	WhatsApp json.RawMessage
}

// ContactCounts counts a workspace's contacts.
type ContactCounts struct {
	Contacts int
	OptedOut int
}

// TriggerKey identifies a trigger among a workspace's triggers: importing a trigger with the same key replaces
// the older one, as RapidPro archives an older trigger for the same keywords.
func TriggerKey(t *export.Trigger) string {
	key := string(t.Type) + ":" + string(t.MatchType)
	for _, k := range t.Keywords {
		key += ":" + k
	}
	for _, g := range t.Groups {
		key += ":+" + string(g.UUID)
	}
	for _, g := range t.ExcludeGroups {
		key += ":-" + string(g.UUID)
	}
	if t.Channel != nil {
		key += ":@" + string(t.Channel.UUID)
	}
	return key
}

// Contact is a contact as stored: goflow's JSON of it, with what queries need alongside.
type Contact struct {
	ID            int64 // assigned by the store; orders contacts for paging
	UUID          flows.ContactUUID
	URN           urns.URN // the URN it is known by, normalized and without a channel
	Name          string
	Language      i18n.Language
	OptStatus     consent.Status
	OptChangedOn  time.Time          // zero when the status was never set
	LastInboundOn time.Time          // zero when it never wrote
	Groups        []assets.GroupUUID // read back sorted
	Data          json.RawMessage    // flows.Contact's JSON
	CreatedOn     time.Time
}

// Recipient is a contact as a broadcast reads it: what deciding whether a message may go to it takes. A recipient
// the workspace doesn't know has only a URN.
type Recipient struct {
	ID            int64 // zero for a URN the workspace doesn't know
	UUID          flows.ContactUUID
	URN           urns.URN
	OptStatus     consent.Status
	LastInboundOn time.Time // zero when it never wrote
}

// Session is a goflow session waiting for a contact's reply.
type Session struct {
	UUID        flows.SessionUUID
	ContactUUID flows.ContactUUID
	Data        json.RawMessage // flows.Session's JSON
	ExpiresOn   time.Time       // when the wait expires; zero when it doesn't
}

// Change is what handling one message, campaign event or API call changes. Commit writes all of it or none of it,
// which is what makes an acknowledged opt-out impossible to lose.
type Change struct {
	Workspace string

	// At is when the change is made, which what it writes is dated by (now when zero), so that a host with a clock
	// of its own, as tests have, dates rows by it.
	At time.Time

	// Message, when set, records the message as processed with its answer, which is replayed for the same UUID.
	Message *ProcessedMessage

	// CampaignFire, when set, records that a campaign event fired for a contact, so that it never fires twice.
	CampaignFire *CampaignFire

	// Contacts are created or updated, by UUID; ID and CreatedOn are ignored.
	Contacts []*Contact

	// Session, when set, becomes the contact's waiting session, replacing any other. EndSessions removes the waiting
	// sessions of the contacts with those UUIDs, but for Session's own contact.
	Session     *Session
	EndSessions []flows.ContactUUID

	Consent  []*ConsentEvent
	Webhooks []*WebhookEvent
	Outbox   []*OutgoingMsg
}

// ProcessedMessage is an incoming message that was handled, with the answer it got.
type ProcessedMessage struct {
	UUID     flows.InputUUID
	Response json.RawMessage
}

// CampaignFire is a campaign event that fired for a contact.
type CampaignFire struct {
	Event       assets.CampaignPointUUID
	ContactUUID flows.ContactUUID
	Decision    string // send, or skip
	Reason      string // why it was skipped
	FiredOn     time.Time
}

// Source is what made a consent change.
type Source string

// The sources of consent changes.
const (
	SourceKeyword Source = "keyword" // the interceptor caught a keyword
	SourceFlow    Source = "flow"    // a flow changed it, with the plugin's actions or by setting the field
	SourceAPI     Source = "api"     // the consent endpoint of the API
	SourceImport  Source = "import"  // import-optouts

	SourceButton                  Source = "button"                    // a WhatsApp button whose label or payload is a keyword
	SourceWhatsAppMarketingStop   Source = "whatsapp_marketing_stop"   // Meta refused a message: the user stopped marketing (131050)
	SourceWhatsAppUserPreferences Source = "whatsapp_user_preferences" // the user stopped or resumed marketing in WhatsApp
)

// ConsentEvent is a row of the consent audit log.
type ConsentEvent struct {
	ID          int64 // assigned by the store
	ContactUUID flows.ContactUUID
	URN         urns.URN
	Before      consent.Status
	After       consent.Status
	Keyword     string
	Language    i18n.Language
	MsgUUID     flows.InputUUID
	Channel     assets.ChannelUUID
	Source      Source
	OccurredOn  time.Time
}

// WebhookStatus is where a webhook event is in its delivery.
type WebhookStatus string

// The statuses of a webhook event.
const (
	WebhookPending   WebhookStatus = "pending"
	WebhookDelivered WebhookStatus = "delivered"
	WebhookFailed    WebhookStatus = "failed" // given up on after retrying for the whole retry period
)

// WebhookEvent is a notification for the business, written with the change it notifies of and delivered later.
type WebhookEvent struct {
	ID          string // a UUID, sent as X-Optout-Event-Id on every attempt
	Seq         int64  // assigned by the store; orders events
	Workspace   string
	ContactUUID flows.ContactUUID
	Body        json.RawMessage // exactly what is posted and signed
	Status      WebhookStatus
	Attempts    int
	NextAttempt time.Time
	CreatedOn   time.Time
	DeliveredOn time.Time // zero until delivered
	LastError   string
}

// WebhookAttempt is one try at delivering a webhook event: a row of the delivery log.
type WebhookAttempt struct {
	EventID    string
	Number     int // 1 for the first attempt
	StartedOn  time.Time
	Duration   time.Duration
	StatusCode int    // 0 when no response came
	Error      string // empty for a 2xx response
}

// Retention says what Prune deletes: what was done before each time. A zero time prunes nothing of its kind.
type Retention struct {
	Answers   time.Time // processed messages, whose answers are replayed to a message sent again
	Delivered time.Time // delivered webhook events with their attempts, and messages whose sending is over
	Inbox     time.Time // WhatsApp events acted on, past which Meta no longer redelivers them
}

// AttemptRecord is an attempt at delivering a webhook event, with what became of the event.
type AttemptRecord struct {
	Attempt *WebhookAttempt
	Outcome WebhookStatus // delivered, failed for good, or pending again
	Next    time.Time     // when a pending event is due again
}

// Broadcast is a message sent to many contacts at once, with its counts so far.
type Broadcast struct {
	ID        string // a UUID
	Workspace string
	Request   json.RawMessage // as the API received it
	DryRun    bool
	CreatedOn time.Time

	Sent       int
	Skipped    map[string]int // by reason
	Recipients int
	FinishedOn time.Time // zero while recipients are being decided
}

// BroadcastRecipient is the decision for one recipient of a broadcast.
type BroadcastRecipient struct {
	Seq      int64 // assigned by the store; orders recipients for paging
	URN      urns.URN
	Decision string // send or skip
	Reason   string // why it was skipped

	// ContactUUID is the contact's, empty for a URN the workspace doesn't know: it goes to the message the recipient
	// is sent, and isn't kept with the decision.
	ContactUUID flows.ContactUUID
}

// OutgoingMsg is a message queued for the channel to send.
type OutgoingMsg struct {
	ID          int64 // assigned by the store
	Workspace   string
	ContactUUID flows.ContactUUID // empty for a URN that isn't a contact yet
	URN         urns.URN
	Channel     assets.ChannelUUID
	Text        string
	Template    string // name of the template, empty for free text
	Source      string // reply, broadcast or campaign
	BroadcastID string
	CreatedOn   time.Time

	Category   string          // the template's category as the request gave it, empty to look it up
	Language   string          // the template's language and locale code as Meta names them (pt_BR), if given
	Components json.RawMessage // the template's parameters, as the Cloud API takes them, if any

	// Status is set by the store: queued in a workspace connected to WhatsApp, unsent otherwise. The rest is the
	// sender's.
	Status      OutboxStatus
	Attempts    int // times a sender claimed it
	Deferrals   int // times Meta's per-user marketing limit put it off
	NextAttempt time.Time
	WAMID       string // Meta's ID of the message, once the Cloud API accepted it
	Reason      string // why it was skipped or failed
	LastError   string
	UpdatedOn   time.Time
}
