package service

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/envs"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/config"
	"github.com/optout-dev/optout/consent"
	"github.com/optout-dev/optout/engine"
	"github.com/optout-dev/optout/export"
	exports "github.com/optout-dev/optout/flows"
	"github.com/optout-dev/optout/internal/quote"
	"github.com/optout-dev/optout/internal/sanitize"
	"github.com/optout-dev/optout/store"
)

// workspace is a stored workspace compiled for handling messages: its configuration, its goflow assets and
// environment, and what its triggers and campaigns are.
type workspace struct {
	*store.Workspace
	cfg       *config.Config
	doc       *config.Document
	sa        flows.SessionAssets
	env       envs.Environment
	channel   *flows.Channel
	triggers  []*export.Trigger
	campaigns []*export.Campaign
	whatsapp  *WhatsAppSettings // nil when the workspace isn't connected
}

// workspace returns the compiled workspace, reading the stored one on every call so that a change made through
// another instance is seen at once, and compiling it again only when its version changed. A request that Authorize
// let through has the workspace as Authorize read it, which is as fresh, and isn't read again.
func (s *Service) workspace(ctx context.Context, id string) (*workspace, error) {
	if ws, ok := ctx.Value(authorized{}).(*store.Workspace); ok && ws.ID == id {
		return s.compiled(ctx, ws)
	}
	return s.reload(ctx, id)
}

// reload returns the compiled workspace as it is stored now, for work that changed it.
func (s *Service) reload(ctx context.Context, id string) (*workspace, error) {
	ws, err := s.store.GetWorkspace(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, newError(NotFound, "", "no workspace %s", quote.Q(id))
	} else if err != nil {
		return nil, storeError(err)
	}
	return s.compiled(ctx, ws)
}

// compiled returns the workspace compiled, from the cache when it holds the version read.
func (s *Service) compiled(ctx context.Context, ws *store.Workspace) (*workspace, error) {
	id := ws.ID

	s.mu.Lock()
	cached := s.workspaces[id]
	s.mu.Unlock()
	if cached != nil && cached.Version == ws.Version {
		return cached, nil
	}

	w, err := s.compile(ctx, ws)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.workspaces[id] = w
	s.mu.Unlock()
	return w, nil
}

func (s *Service) compile(ctx context.Context, ws *store.Workspace) (*workspace, error) {
	doc := &config.Document{}
	if err := jsonx.Unmarshal(ws.Config, doc); err != nil {
		return nil, fmt.Errorf("reading workspace %s's configuration: %w", ws.ID, err)
	}
	cfg, err := doc.Compile()
	if err != nil {
		return nil, fmt.Errorf("compiling workspace %s's configuration: %w", ws.ID, err)
	}
	wa, err := readWhatsApp(ws.WhatsApp)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", ws.ID, err)
	}
	exp, err := s.store.Assets(ctx, ws.ID)
	if err != nil {
		return nil, storeError(err)
	}

	channelUUID := ChannelUUID(ws.ID)
	extra := jsonx.MustMarshal(map[string]any{"channels": []map[string]any{{
		"uuid": channelUUID, "name": "WhatsApp", "address": "", "schemes": []string{"whatsapp", "tel"}, "roles": []string{"send", "receive"},
	}}})
	src, err := exp.Source(extra)
	if err != nil {
		return nil, fmt.Errorf("reading workspace %s's assets: %w", ws.ID, err)
	}

	env := engine.NewEnvironment(cfg)
	sa, err := engine.NewSessionAssets(env, src, cfg)
	if err != nil {
		return nil, fmt.Errorf("building workspace %s's assets: %w", ws.ID, err)
	}
	return &workspace{
		Workspace: ws,
		cfg:       cfg,
		doc:       doc,
		sa:        sa,
		env:       env,
		channel:   sa.Channels().Get(channelUUID),
		triggers:  exp.Triggers,
		campaigns: exp.Campaigns,
		whatsapp:  wa,
	}, nil
}

// ChannelUUID is the UUID of the WhatsApp channel the service gives each workspace, derived from the workspace's ID
// so that every instance agrees on it without storing it.
func ChannelUUID(workspace string) assets.ChannelUUID {
	return assets.ChannelUUID(nameUUID("optout channel\x00" + workspace))
}

// nameUUID is a UUID derived from a name, which every instance derives alike.
func nameUUID(name string) string {
	h := sha1.Sum([]byte(name))
	h[6] = h[6]&0x0f | 0x50 // version 5: name-based
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// WorkspaceRequest is the body of the workspace PUT: the opt-out configuration, plus what only the service has.
type WorkspaceRequest struct {
	config.Document

	Name    string           `json:"name,omitempty"`
	Webhook *WebhookSettings `json:"webhook,omitempty"` // kept as it is when absent
	Token   *string          `json:"token,omitempty"`   // kept as it is when absent; "" removes it

	WhatsApp *WhatsAppSettings `json:"whatsapp,omitempty"` // kept as it is when absent; {} disconnects the workspace
}

// WebhookSettings is where the business is notified of consent changes.
type WebhookSettings struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// WorkspaceView is a workspace as the API shows it: the webhook secret is never shown, only whether there is one.
type WorkspaceView struct {
	ID string `json:"id"`
	config.Document
	Name      string          `json:"name"`
	Webhook   WebhookSettings `json:"webhook"`
	HasToken  bool            `json:"has_token"`
	Version   int64           `json:"version"`
	CreatedOn time.Time       `json:"created_on"`
	UpdatedOn time.Time       `json:"updated_on"`

	WhatsApp *WhatsAppSettings `json:"whatsapp,omitempty"` // with the access token and app secret redacted
}

// Redacted is what the API shows instead of a webhook secret.
const Redacted = "********"

// MinTokenLength and MinSecretLength keep workspace tokens and webhook secrets long enough not to be guessed.
const (
	MinTokenLength  = 16
	MinSecretLength = 16
)

var workspaceIDRegex = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// PutWorkspace creates or updates a workspace from the JSON body of a PUT, returning it as the API shows it and
// whether it was created. A new workspace gets the plugin's export (its fields, group and system flow).
func (s *Service) PutWorkspace(ctx context.Context, id string, req *WorkspaceRequest) (*WorkspaceView, bool, error) {
	if !workspaceIDRegex.MatchString(id) {
		return nil, false, newError(Invalid, "workspace", "%s is not a workspace ID: use up to 64 letters, digits, '.', '_' and '-'", quote.Q(id))
	}
	cfg, err := checkWorkspace(req)
	if err != nil {
		return nil, false, err
	}
	if req.Webhook != nil && req.Webhook.URL != "" {
		if err := s.policy.CheckURL(req.Webhook.URL); err != nil {
			return nil, false, newError(Unprocessable, "webhook.url", "%s", strings.TrimPrefix(err.Error(), "webhook.url: "))
		}
	}

	ws, err := s.store.GetWorkspace(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		ws = &store.Workspace{ID: id, Name: id}
	} else if err != nil {
		return nil, false, storeError(err)
	}

	if req.Name != "" {
		ws.Name = req.Name
	}
	if req.Webhook != nil {
		ws.WebhookURL, ws.WebhookSecret = req.Webhook.URL, req.Webhook.Secret
	}
	if wa := req.WhatsApp; wa != nil {
		ws.WhatsApp = nil
		if *wa != (WhatsAppSettings{}) {
			ws.WhatsApp = jsonx.MustMarshal(wa)
		}
	}
	if req.Token != nil {
		ws.TokenHash = ""
		if *req.Token != "" {
			ws.TokenHash = hashToken(*req.Token)
		}
	}
	ws.Config = jsonx.MustMarshal(req.Document)

	plugin, err := pluginExport()
	if err != nil {
		return nil, false, err
	}
	created, err := s.store.PutWorkspace(ctx, ws, []string{cfg.Group}, plugin)
	if errors.Is(err, store.ErrTokenInUse) {
		return nil, false, newError(Conflict, "token", "is another workspace's: give each workspace a token of its own")
	} else if err != nil {
		return nil, false, storeError(err)
	}
	if err := s.ensurePluginAssets(ctx, id); err != nil {
		return nil, false, err
	}

	view, err := s.GetWorkspace(ctx, id)
	return view, created, err
}

// checkWorkspace checks a WorkspaceRequest, all but what its webhook URL resolves to, and compiles its configuration.
func checkWorkspace(req *WorkspaceRequest) (*config.Config, error) {
	cfg, err := req.Document.Compile()
	if err != nil {
		return nil, &Error{Kind: Unprocessable, Err: err}
	}
	req.Name = sanitize.Name(req.Name)
	if utf8.RuneCountInString(req.Name) > MaxNameLength {
		return nil, newError(Unprocessable, "name", "is longer than %d characters", MaxNameLength)
	}
	if w := req.Webhook; w != nil {
		switch {
		case sanitize.Check(w.URL) != nil:
			return nil, &Error{Kind: Unprocessable, Field: "webhook.url", Err: sanitize.Check(w.URL)}
		case sanitize.Check(w.Secret) != nil:
			return nil, &Error{Kind: Unprocessable, Field: "webhook.secret", Err: sanitize.Check(w.Secret)}
		case w.URL == "" && w.Secret != "":
			return nil, newError(Unprocessable, "webhook.url", "is required with a secret")
		case w.URL == "":
		case w.Secret == Redacted:
			return nil, newError(Unprocessable, "webhook.secret", "is the redacted placeholder: send the secret itself")
		case utf8.RuneCountInString(w.Secret) < MinSecretLength:
			return nil, newError(Unprocessable, "webhook.secret", "is shorter than %d characters: every notification is signed with it", MinSecretLength)
		}
	}
	if req.WhatsApp != nil {
		if err := checkWhatsApp(req.WhatsApp); err != nil {
			return nil, err
		}
	}
	if req.Token != nil && *req.Token != "" {
		if utf8.RuneCountInString(*req.Token) < MinTokenLength {
			return nil, newError(Unprocessable, "token", "is shorter than %d characters", MinTokenLength)
		}
		if err := sanitize.Check(*req.Token); err != nil {
			return nil, &Error{Kind: Unprocessable, Field: "token", Err: err}
		}
	}
	return cfg, nil
}

// ensurePluginAssets imports the plugin's export into a workspace that lacks its fields, which every new workspace
// does: without them an opt-out could be answered but not recorded.
func (s *Service) ensurePluginAssets(ctx context.Context, id string) error {
	w, err := s.reload(ctx, id)
	if err != nil {
		return err
	}
	if w.sa.Fields().Get(consent.StatusField) != nil && w.sa.Fields().Get(consent.ChangedOnField) != nil {
		return nil
	}
	plugin, err := pluginExport()
	if err != nil {
		return err
	}
	_, err = s.importInto(ctx, w, plugin)
	return err
}

// pluginExport reads the plugin's export, which every workspace is created with, afresh: an import changes the export
// it imports.
func pluginExport() (*export.Export, error) {
	data, err := exports.Exports.ReadFile(exports.Plugin)
	if err != nil {
		return nil, err
	}
	plugin, err := export.Read(data)
	if err != nil {
		return nil, fmt.Errorf("reading the plugin's export: %w", err)
	}
	return plugin, nil
}

// GetWorkspace returns the workspace as the API shows it.
func (s *Service) GetWorkspace(ctx context.Context, id string) (*WorkspaceView, error) {
	w, err := s.workspace(ctx, id)
	if err != nil {
		return nil, err
	}
	view := &WorkspaceView{
		ID:        w.ID,
		Document:  w.doc.InEffect(w.cfg),
		Name:      w.Name,
		Webhook:   WebhookSettings{URL: w.WebhookURL},
		HasToken:  w.TokenHash != "",
		WhatsApp:  w.whatsapp.redacted(),
		Version:   w.Version,
		CreatedOn: w.CreatedOn,
		UpdatedOn: w.UpdatedOn,
	}
	if w.WebhookSecret != "" {
		view.Webhook.Secret = Redacted
	}
	return view, nil
}

// authorized is the key of the workspace that Authorize read, in the context of the request it let through.
type authorized struct{}

// Authorize says whether the token is the workspace's own. The API checks the admin token itself. The context it
// returns carries the workspace as read, so that the request's work doesn't read it a second time; work that changes
// the workspace reads it again afterwards (reload).
func (s *Service) Authorize(ctx context.Context, id string, token string) (context.Context, bool, error) {
	ws, err := s.store.GetWorkspace(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ctx, false, nil
	} else if err != nil {
		return ctx, false, storeError(err)
	}
	if ws.TokenHash == "" || subtle.ConstantTimeCompare([]byte(ws.TokenHash), []byte(hashToken(token))) != 1 {
		return ctx, false, nil
	}
	return context.WithValue(ctx, authorized{}, ws), true, nil
}

// TokenWorkspace returns the workspace whose token it is, or "" when it is nobody's, so that the API can tell a
// token of another workspace (403) from a token that is no good at all (401).
func (s *Service) TokenWorkspace(ctx context.Context, token string) (string, error) {
	id, err := s.store.WorkspaceByToken(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", storeError(err)
	}
	return id, nil
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ImportResult counts what an import brought in, and says which of what its flows use it created and which it
// couldn't.
type ImportResult struct {
	Flows     int      `json:"flows"`
	Fields    int      `json:"fields"`
	Groups    int      `json:"groups"`
	Triggers  int      `json:"triggers"`
	Campaigns int      `json:"campaigns"`
	Created   []string `json:"created,omitempty"`  // fields and groups the flows use, created as RapidPro's import does
	Warnings  []string `json:"warnings,omitempty"` // assets the flows use that can't be created: those steps log errors
}

// Import adds a RapidPro export to the workspace's assets. What its flows use that neither it nor the workspace has
// is dealt with as RapidPro's import does: fields and groups are created; a flow that isn't there refuses the
// import, naming it, as goflow can't carry on past a flow it can't enter; anything else is a warning.
func (s *Service) Import(ctx context.Context, id string, body []byte) (*ImportResult, error) {
	w, err := s.workspace(ctx, id)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	exp, err := export.Read(body)
	if err != nil {
		return nil, &Error{Kind: Unprocessable, Err: err}
	}
	result, err := s.importInto(ctx, w, exp)
	if err == nil {
		s.log.Info("imported export", "workspace", w.ID, "flows", result.Flows, "fields", result.Fields, "groups", result.Groups,
			"triggers", result.Triggers, "campaigns", result.Campaigns, "created", len(result.Created), "warnings", len(result.Warnings),
			"elapsed_ms", time.Since(started).Milliseconds())
	}
	return result, err
}

// importInto adds an export to the workspace's assets as RapidPro's import does: groups named as the workspace's are
// the workspace's, fields and groups that flows use and nobody has are created, and a missing flow refuses it all.
func (s *Service) importInto(ctx context.Context, w *workspace, exp *export.Export) (*ImportResult, error) {
	deps, err := exp.Dependencies(w.sa)
	if err != nil {
		return nil, &Error{Kind: Unprocessable, Err: err}
	}
	var refused []string
	for _, d := range deps {
		if d.Effect == export.EffectRefuse {
			refused = append(refused, strings.TrimSpace(d.String()+" "+d.Problem))
		}
	}
	if len(refused) > 0 {
		return nil, newError(Unprocessable, "", "the flows use what the export and the workspace don't have: %s", strings.Join(refused, "; "))
	}
	exp.AddDependencies(deps)
	// the answer counts what the export holds, before its groups that the workspace has are matched to the workspace's
	result := &ImportResult{Flows: len(exp.Flows), Fields: len(exp.Fields), Groups: len(exp.Groups), Triggers: len(exp.Triggers), Campaigns: len(exp.Campaigns)}
	matched := exp.MatchGroups(w.sa.Groups().All())

	for _, d := range deps {
		switch {
		case d.Effect == export.EffectWarn:
			result.Warnings = append(result.Warnings, d.String()+" isn't in the workspace")
		case d.Effect == export.EffectCreate && matched[assets.GroupUUID(d.Identity)] == "":
			result.Created = append(result.Created, d.String())
		}
	}
	if err := s.store.Import(ctx, w.ID, exp); err != nil {
		return nil, storeError(err)
	}
	return result, nil
}

// WorkspaceSummary is a workspace in the admin's list of them.
type WorkspaceSummary struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Contacts  int       `json:"contacts"`
	OptedOut  int       `json:"opted_out"`
	CreatedOn time.Time `json:"created_on"`
}

// Workspaces lists every workspace, by ID, with how many contacts it has and how many of them opted out.
func (s *Service) Workspaces(ctx context.Context) ([]*WorkspaceSummary, error) {
	ids, err := s.store.ListWorkspaces(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	counts, err := s.store.CountContacts(ctx)
	if err != nil {
		return nil, storeError(err)
	}
	summaries := make([]*WorkspaceSummary, 0, len(ids))
	for _, id := range ids {
		ws, err := s.store.GetWorkspace(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since it was listed
		} else if err != nil {
			return nil, storeError(err)
		}
		c := counts[id]
		summaries = append(summaries, &WorkspaceSummary{ID: id, Name: ws.Name, Contacts: c.Contacts, OptedOut: c.OptedOut, CreatedOn: ws.CreatedOn})
	}
	return summaries, nil
}

// DeleteWorkspace deletes the workspace and everything it holds, its audit log included, in one transaction.
func (s *Service) DeleteWorkspace(ctx context.Context, id string) error {
	if err := s.store.DeleteWorkspace(ctx, id); errors.Is(err, store.ErrNotFound) {
		return newError(NotFound, "", "no workspace %s", quote.Q(id))
	} else if err != nil {
		return storeError(err)
	}
	s.mu.Lock()
	delete(s.workspaces, id)
	s.mu.Unlock()
	s.log.Info("deleted workspace", "workspace", id)
	return nil
}
