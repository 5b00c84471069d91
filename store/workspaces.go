package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/gocommon/uuids"
	"github.com/nyaruka/goflow/assets"

	"github.com/optout-dev/optout/export"
)

// A workspace is created with version 1 and every later write bumps it, so version 1 is how PutWorkspace tells that it
// created the workspace, without a read before the write that could race another instance's.
const sqlUpsertWorkspace = `
INSERT INTO workspaces (id, name, config, webhook_url, webhook_secret, token_hash, version, created_on, updated_on, whatsapp)
     VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8)
ON CONFLICT (id) DO UPDATE
        SET name = excluded.name, config = excluded.config, webhook_url = excluded.webhook_url,
            webhook_secret = excluded.webhook_secret, token_hash = excluded.token_hash, whatsapp = excluded.whatsapp,
            version = workspaces.version + 1, updated_on = excluded.updated_on
  RETURNING version, created_on, updated_on`

const sqlSelectGroupNames = `SELECT name FROM workspace_assets WHERE workspace = $1 AND kind = 'group'`

// PutWorkspace sets ws's Version, CreatedOn and UpdatedOn to what it wrote. Groups are matched by name as goflow
// finds them, ignoring case, after the initial assets are in.
func (s *store) PutWorkspace(ctx context.Context, ws *Workspace, groups []string, initial *export.Export) (bool, error) {
	now := time.Now()
	var version int64
	var createdOn, updatedOn time.Time

	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// the upsert locks the workspace's row, which keeps concurrent puts from creating the same group twice
		row := tx.QueryRowContext(ctx, sqlUpsertWorkspace, ws.ID, ws.Name, dbJSON(ws.Config), ws.WebhookURL, ws.WebhookSecret, ws.TokenHash, dbTime(now), dbJSON(ws.WhatsApp))
		if err := row.Scan(&version, scanTime(&createdOn), scanTime(&updatedOn)); err != nil {
			return err
		}
		if version == 1 && initial != nil {
			if err := s.putAssets(ctx, tx, ws.ID, initial); err != nil {
				return err
			}
		}
		_, err := s.createGroups(ctx, tx, ws.ID, groups)
		return err
	})
	if s.dialect.violates(err, "workspaces_token_hash") {
		return false, fmt.Errorf("putting workspace %s: %w", ws.ID, ErrTokenInUse)
	} else if err != nil {
		return false, fmt.Errorf("putting workspace %s: %w", ws.ID, err)
	}

	ws.Version, ws.CreatedOn, ws.UpdatedOn = version, createdOn, updatedOn
	return version == 1, nil
}

// CreateGroup bumps the workspace's version, which locks its row until the commit, so that two instances creating
// one name at once create one group.
func (s *store) CreateGroup(ctx context.Context, workspace string, name string) (bool, error) {
	var created bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := execCount(ctx, tx, sqlBumpWorkspace, workspace, dbTime(time.Now()))
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		created, err = s.createGroups(ctx, tx, workspace, []string{name})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("creating group in workspace %s: %w", workspace, err)
	}
	return created, nil
}

// createGroups adds the groups named that the workspace doesn't have to its assets, with new UUIDs, and returns
// whether it added any.
func (s *store) createGroups(ctx context.Context, tx *sql.Tx, workspace string, names []string) (bool, error) {
	existing, err := queryRows(ctx, tx, scanString, sqlSelectGroupNames, workspace)
	if err != nil {
		return false, fmt.Errorf("reading groups: %w", err)
	}
	has := make(map[string]bool, len(existing))
	for _, name := range existing {
		has[strings.ToLower(name)] = true
	}

	var missing []*export.Group
	for _, name := range names {
		if !has[strings.ToLower(name)] {
			has[strings.ToLower(name)] = true
			missing = append(missing, &export.Group{UUID: assets.GroupUUID(uuids.NewV4()), Name: name})
		}
	}
	if len(missing) == 0 {
		return false, nil
	}
	return true, s.putAssets(ctx, tx, workspace, &export.Export{Groups: missing})
}

const sqlSelectWorkspace = `
SELECT id, name, config, webhook_url, webhook_secret, token_hash, version, created_on, updated_on, whatsapp
  FROM workspaces
 WHERE id = $1`

func (s *store) GetWorkspace(ctx context.Context, id string) (*Workspace, error) {
	ws := &Workspace{}
	err := s.db.QueryRowContext(ctx, sqlSelectWorkspace, id).Scan(
		&ws.ID, &ws.Name, scanJSON(&ws.Config), &ws.WebhookURL, &ws.WebhookSecret, &ws.TokenHash, &ws.Version,
		scanTime(&ws.CreatedOn), scanTime(&ws.UpdatedOn), scanJSON(&ws.WhatsApp),
	)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("workspace %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading workspace %s: %w", id, err)
	}
	return ws, nil
}

const sqlSelectWorkspaceIDs = `SELECT id FROM workspaces`

// ListWorkspaces sorts IDs in Go, by bytes, which PostgreSQL only does in the C collation.
func (s *store) ListWorkspaces(ctx context.Context) ([]string, error) {
	ids, err := queryRows(ctx, s.db, scanString, sqlSelectWorkspaceIDs)
	if err != nil {
		return nil, fmt.Errorf("listing workspaces: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// A workspace without a token has an empty hash, which is no token's.
const sqlSelectWorkspaceByToken = `SELECT id FROM workspaces WHERE token_hash = $1 AND token_hash <> '' ORDER BY id LIMIT 1`

func (s *store) WorkspaceByToken(ctx context.Context, tokenHash string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, sqlSelectWorkspaceByToken, tokenHash).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("workspace of token: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("reading workspace of token: %w", err)
	}
	return id, nil
}

const sqlCountContacts = `
  SELECT workspace, COUNT(*), COUNT(CASE WHEN opt_status = 'opted_out' THEN 1 END)
    FROM contacts
GROUP BY workspace`

func (s *store) CountContacts(ctx context.Context) (map[string]ContactCounts, error) {
	counts := map[string]ContactCounts{}
	_, err := queryRows(ctx, s.db, func(row rowScanner) (struct{}, error) {
		var ws string
		var c ContactCounts
		err := row.Scan(&ws, &c.Contacts, &c.OptedOut)
		counts[ws] = c
		return struct{}{}, err
	}, sqlCountContacts)
	if err != nil {
		return nil, fmt.Errorf("counting contacts: %w", err)
	}
	return counts, nil
}

// Deleting a workspace deletes the rows of every table, the dependents' first: those that reference another table's
// rows by their IDs go by those rows.
var sqlDeleteWorkspace = []string{
	`DELETE FROM broadcast_recipients WHERE broadcast_id IN (SELECT id FROM broadcasts WHERE workspace = $1)`,
	`DELETE FROM broadcasts WHERE workspace = $1`,
	`DELETE FROM webhook_attempts WHERE event_seq IN (SELECT seq FROM webhook_events WHERE workspace = $1)`,
	`DELETE FROM webhook_events WHERE workspace = $1`,
	`DELETE FROM outbox WHERE workspace = $1`,
	`DELETE FROM consent_events WHERE workspace = $1`,
	`DELETE FROM campaign_fires WHERE workspace = $1`,
	`DELETE FROM processed_messages WHERE workspace = $1`,
	`DELETE FROM sessions WHERE workspace = $1`,
	`DELETE FROM contact_groups WHERE workspace = $1`,
	`DELETE FROM contacts WHERE workspace = $1`,
	`DELETE FROM workspace_assets WHERE workspace = $1`,
	`DELETE FROM whatsapp_inbox WHERE workspace = $1`,
	`DELETE FROM template_changes WHERE workspace = $1`,
}

const sqlDeleteWorkspaceRow = `DELETE FROM workspaces WHERE id = $1`

func (s *store) DeleteWorkspace(ctx context.Context, id string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// the workspace's row first, which bumping locks: a write of the workspace's that began before is waited
		// for, and one that begins after finds no workspace
		n, err := execCount(ctx, tx, sqlBumpWorkspace, id, dbTime(time.Now()))
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		for _, stmt := range sqlDeleteWorkspace {
			if _, err := tx.ExecContext(ctx, stmt, id); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, sqlDeleteWorkspaceRow, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting workspace %s: %w", id, err)
	}
	return nil
}
