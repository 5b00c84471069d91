package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nyaruka/gocommon/jsonx"
	"github.com/nyaruka/goflow/assets"
	"github.com/nyaruka/goflow/flows"

	"github.com/optout-dev/optout/export"
)

// The kinds of asset in workspace_assets, where each is keyed as documented on Import.
const (
	kindFlow     = "flow"
	kindField    = "field"
	kindGroup    = "group"
	kindTrigger  = "trigger"
	kindCampaign = "campaign"
)

// asset is an item of an export as workspace_assets keeps it: flows as their definitions, the rest as exports list
// them.
type asset struct {
	kind, key, name string
	data            []byte
}

const sqlBumpWorkspace = `UPDATE workspaces SET version = version + 1, updated_on = $2 WHERE id = $1`

func (s *store) Import(ctx context.Context, workspace string, exp *export.Export) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// bumping the version first locks the workspace's row, which serializes the positions of concurrent imports
		n, err := execCount(ctx, tx, sqlBumpWorkspace, workspace, dbTime(time.Now()))
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return s.putAssets(ctx, tx, workspace, exp)
	})
	if err != nil {
		return fmt.Errorf("importing into workspace %s: %w", workspace, err)
	}
	return nil
}

const sqlSelectLastAssetPosition = `SELECT COALESCE(MAX(position), 0) FROM workspace_assets WHERE workspace = $1`

// An asset that replaces another keeps the position of the first.
var sqlUpsertAssets = &bulkInsert{
	insert:  `INSERT INTO workspace_assets (workspace, kind, key, position, name, data)`,
	columns: 6,
	suffix:  ` ON CONFLICT (workspace, kind, key) DO UPDATE SET name = excluded.name, data = excluded.data`,
}

// putAssets adds the export's assets to the workspace's after those it has, replacing those with the same keys.
func (s *store) putAssets(ctx context.Context, tx *sql.Tx, workspace string, exp *export.Export) error {
	items, err := exportAssets(exp)
	if err != nil {
		return err
	}

	var last int64
	if err := tx.QueryRowContext(ctx, sqlSelectLastAssetPosition, workspace).Scan(&last); err != nil {
		return fmt.Errorf("reading asset positions: %w", err)
	}

	err = sqlUpsertAssets.exec(ctx, tx, s.dialect, len(items), func(i int, args []any) []any {
		a := items[i]
		return append(args, workspace, a.kind, a.key, last+int64(i)+1, a.name, string(a.data))
	}, nil)
	if err != nil {
		return fmt.Errorf("writing assets: %w", err)
	}
	return nil
}

// exportAssets lists the export's assets in order, an asset with the same key as one before it replacing that one in
// its position, as it would if imported after it.
func exportAssets(exp *export.Export) ([]*asset, error) {
	var items []*asset
	index := map[[2]string]int{}
	add := func(kind, key, name string, item any) error {
		data, err := jsonx.Marshal(item)
		if err != nil {
			return fmt.Errorf("writing %s %s: %w", kind, key, err)
		}
		a := &asset{kind: kind, key: key, name: name, data: data}
		if i, seen := index[[2]string{kind, key}]; seen {
			items[i] = a
		} else {
			index[[2]string{kind, key}] = len(items)
			items = append(items, a)
		}
		return nil
	}

	for _, f := range exp.Flows {
		if err := add(kindFlow, string(f.UUID), f.Name, f); err != nil {
			return nil, err
		}
	}
	for _, f := range exp.Fields {
		if err := add(kindField, f.Key, f.Name, f); err != nil {
			return nil, err
		}
	}
	for _, g := range exp.Groups {
		if err := add(kindGroup, string(g.UUID), g.Name, g); err != nil {
			return nil, err
		}
	}
	for _, t := range exp.Triggers {
		if err := add(kindTrigger, TriggerKey(t), "", t); err != nil {
			return nil, err
		}
	}
	for _, c := range exp.Campaigns {
		if err := add(kindCampaign, string(c.UUID), c.Name, c); err != nil {
			return nil, err
		}
	}
	return items, nil
}

const sqlSelectAssets = `SELECT kind, key, name, data FROM workspace_assets WHERE workspace = $1 ORDER BY position`

// Assets returns an export of the current version, as the flows were migrated to the current spec when they were
// read, with empty lists for kinds the workspace has none of.
func (s *store) Assets(ctx context.Context, workspace string) (*export.Export, error) {
	items, err := queryRows(ctx, s.db, scanAsset, sqlSelectAssets, workspace)
	if err != nil {
		return nil, fmt.Errorf("reading assets of workspace %s: %w", workspace, err)
	}

	exp := &export.Export{
		Version:   export.CurrentVersion,
		Flows:     []*export.Flow{},
		Fields:    []*export.Field{},
		Groups:    []*export.Group{},
		Campaigns: []*export.Campaign{},
		Triggers:  []*export.Trigger{},
	}
	for _, a := range items {
		if err := addAsset(exp, a); err != nil {
			return nil, fmt.Errorf("reading %s %s of workspace %s: %w", a.kind, a.key, workspace, err)
		}
	}
	return exp, nil
}

func scanAsset(row rowScanner) (*asset, error) {
	a := &asset{}
	return a, row.Scan(&a.kind, &a.key, &a.name, &a.data)
}

// addAsset adds an asset to the export. A flow is made from its definition as it was written, without reading it
// again with goflow, which would need every type of action and router it uses registered in this process.
func addAsset(exp *export.Export, a *asset) error {
	switch a.kind {
	case kindFlow:
		var header struct {
			Type flows.FlowType `json:"type"`
		}
		if err := json.Unmarshal(a.data, &header); err != nil {
			return err
		}
		exp.Flows = append(exp.Flows, &export.Flow{UUID: assets.FlowUUID(a.key), Name: a.name, Type: header.Type, Definition: a.data})
	case kindField:
		f := &export.Field{}
		if err := f.UnmarshalJSON(a.data); err != nil {
			return err
		}
		exp.Fields = append(exp.Fields, f)
	case kindGroup:
		g := &export.Group{}
		if err := g.UnmarshalJSON(a.data); err != nil {
			return err
		}
		exp.Groups = append(exp.Groups, g)
	case kindTrigger:
		t := &export.Trigger{}
		if err := t.UnmarshalJSON(a.data); err != nil {
			return err
		}
		exp.Triggers = append(exp.Triggers, t)
	case kindCampaign:
		c := &export.Campaign{}
		if err := c.UnmarshalJSON(a.data); err != nil {
			return err
		}
		exp.Campaigns = append(exp.Campaigns, c)
	default:
		return errors.New("unknown kind of asset")
	}
	return nil
}
