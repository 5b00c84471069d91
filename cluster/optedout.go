package cluster

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/nyaruka/gocommon/urns"
)

// A workspace's opted-out set holds the URN identities of its opted-out contacts and, once it is known to be
// complete, the member complete, which no URN can be since URNs have a colon. Keeping the mark inside the set means
// one command reads both, and a set that Redis lost, restarting empty or evicting it, takes its mark with it.
//
// A rebuild streams the store's opted-out contacts into a temporary set and renames it over the live one, so that
// readers never see half of it. A write that the store commits after the rebuild read that contact's page would be
// lost by the rename, so while a rebuild runs (its token key exists) writes go to the temporary set as well, and the
// URNs written are remembered so that the rebuild doesn't overwrite them with what it read before. Everything that
// touches more than one key is a Lua script, so Redis runs it whole between any two others' commands.
const (
	completeMember = "complete"
	pageSize       = 5000
	rebuildTTL     = time.Minute // how long a crashed instance's rebuild blocks others; renewed by every page
)

// writeScript records a contact's status in the live set and, while a rebuild runs, in the rebuild's set too.
// KEYS: live, temp, touched, rebuilding; ARGV: URN, "1" to add or "0" to remove.
var writeScript = redis.NewScript(4, `
local cmd = ARGV[2] == "1" and "SADD" or "SREM"
redis.call(cmd, KEYS[1], ARGV[1])
local ttl = redis.call("PTTL", KEYS[4])
if ttl > 0 then
	redis.call(cmd, KEYS[2], ARGV[1])
	redis.call("SADD", KEYS[3], ARGV[1])
	redis.call("PEXPIRE", KEYS[2], ttl)
	redis.call("PEXPIRE", KEYS[3], ttl)
end
return 1`)

// startScript starts a rebuild unless another instance's runs. KEYS: rebuilding, temp, touched; ARGV: token, TTL ms.
var startScript = redis.NewScript(3, `
if not redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
	return 0
end
redis.call("DEL", KEYS[2], KEYS[3])
return 1`)

// addScript adds a page of the store's opted-out URNs to the rebuild's set, but not those written since the rebuild
// started, whose status the page may predate. It returns 0 if the rebuild is no longer the caller's.
// KEYS: rebuilding, temp, touched; ARGV: token, TTL ms, URNs...
var addScript = redis.NewScript(3, `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then
	return 0
end
for i = 3, #ARGV do
	if redis.call("SISMEMBER", KEYS[3], ARGV[i]) == 0 then
		redis.call("SADD", KEYS[2], ARGV[i])
	end
end
for i = 1, 3 do
	redis.call("PEXPIRE", KEYS[i], ARGV[2])
end
return 1`)

// finishScript marks the rebuild's set complete and renames it over the live one, unless the rebuild is no longer
// the caller's because the set was invalidated meanwhile. KEYS: rebuilding, temp, touched, live; ARGV: token, mark.
var finishScript = redis.NewScript(4, `
if redis.call("GET", KEYS[1]) ~= ARGV[1] then
	return 0
end
redis.call("SADD", KEYS[2], ARGV[2])
redis.call("RENAME", KEYS[2], KEYS[4])
redis.call("PERSIST", KEYS[4])
redis.call("DEL", KEYS[1], KEYS[3])
return 1`)

// invalidateScript unmarks the live set and cancels any rebuild running, which may have read the store before the
// change that the set missed. KEYS: live, rebuilding; ARGV: mark.
var invalidateScript = redis.NewScript(2, `
redis.call("SREM", KEYS[1], ARGV[1])
redis.call("DEL", KEYS[2])
return 1`)

// OptedOut says which of the URNs are opted out in the workspace, in one Redis call. It returns ok false when the
// set can't be trusted: no Redis, Redis down, or the set not complete (not rebuilt since Redis lost it or since it
// missed a write); the caller asks the store then.
func (c *Coordinator) OptedOut(ctx context.Context, workspace string, batch []urns.URN) ([]bool, bool) {
	if c.isDirty(workspace) {
		return nil, false
	}
	live, _, _, _ := c.keys.optedOut(workspace)
	args := make([]any, 0, len(batch)+2)
	args = append(args, live, completeMember)
	for _, urn := range batch {
		args = append(args, member(urn))
	}

	var found []int
	err := c.do(ctx, func(conn redis.Conn) error {
		var err error
		found, err = redis.Ints(redis.DoContext(conn, ctx, "SMISMEMBER", args...))
		return err
	})
	if err != nil || found[0] != 1 {
		return nil, false
	}
	optedOut := make([]bool, len(batch))
	for i := range batch {
		optedOut[i] = found[i+1] == 1
	}
	return optedOut, true
}

// SetOptedOut records the contact's status in the workspace's set, after the store committed it. Callers hold the
// contact's lock, so that writes for one contact reach Redis in the order the store committed them. A write that
// fails leaves the set untrusted, in this instance at once and in Redis as soon as it answers again.
func (c *Coordinator) SetOptedOut(ctx context.Context, workspace string, urn urns.URN, optedOut bool) {
	if c.pool == nil {
		return
	}
	live, temp, touched, rebuilding := c.keys.optedOut(workspace)
	add := "0"
	if optedOut {
		add = "1"
	}
	err := c.do(ctx, func(conn redis.Conn) error {
		_, err := writeScript.DoContext(ctx, conn, live, temp, touched, rebuilding, member(urn), add)
		return err
	})
	if err != nil {
		c.markDirty(workspace)
	}
}

// Invalidate leaves the workspace's set untrusted until Run rebuilds it, after the store committed changes that
// weren't written with SetOptedOut, such as a bulk import.
func (c *Coordinator) Invalidate(ctx context.Context, workspace string) {
	if c.pool == nil {
		return
	}
	err := c.do(ctx, func(conn redis.Conn) error { return c.invalidate(ctx, conn, workspace) })
	if err != nil {
		c.markDirty(workspace)
	}
	c.health.mu.Lock()
	c.health.complete = false
	c.health.mu.Unlock()
}

func (c *Coordinator) invalidate(ctx context.Context, conn redis.Conn, workspace string) error {
	live, _, _, rebuilding := c.keys.optedOut(workspace)
	_, err := invalidateScript.DoContext(ctx, conn, live, rebuilding, completeMember)
	return err
}

// rebuildIncomplete rebuilds the sets of the workspaces that aren't complete, and records whether all are.
func (c *Coordinator) rebuildIncomplete(ctx context.Context) {
	workspaces, err := c.source.ListWorkspaces(ctx)
	c.health.mu.Lock()
	if err != nil && !c.health.listFailed {
		c.log.Error("can't list the workspaces to check their opted-out sets", "error", err)
	}
	c.health.listFailed = err != nil
	c.health.mu.Unlock()
	if err != nil {
		return
	}

	var complete []int
	if len(workspaces) > 0 {
		err = c.do(ctx, func(conn redis.Conn) error {
			for _, ws := range workspaces {
				live, _, _, _ := c.keys.optedOut(ws)
				if err := conn.Send("SISMEMBER", live, completeMember); err != nil {
					return err
				}
			}
			var err error
			complete, err = redis.Ints(conn.Do(""))
			return err
		})
		if err != nil {
			return
		}
	}

	started, all, rebuilt := time.Now(), true, 0
	for i, ws := range workspaces {
		if complete[i] == 1 {
			continue
		}
		ok, err := c.rebuild(ctx, ws)
		if err != nil {
			c.log.Error("can't rebuild a workspace's opted-out set", "workspace", ws, "error", err)
		}
		if ok {
			rebuilt++
		}
		all = all && ok
	}
	if rebuilt > 0 {
		c.log.Info("rebuilt opted-out sets", "workspaces", rebuilt, "elapsed", time.Since(started))
	}
	c.health.mu.Lock()
	c.health.complete = all && c.health.up
	c.health.mu.Unlock()
}

// rebuild builds the workspace's set from the store. It returns false, with no error, when another instance is
// rebuilding it or the set was invalidated meanwhile.
func (c *Coordinator) rebuild(ctx context.Context, workspace string) (bool, error) {
	live, temp, touched, rebuilding := c.keys.optedOut(workspace)
	token := rand.Text()
	ttl := rebuildTTL.Milliseconds()

	ok, err := c.rebuildStep(ctx, startScript, rebuilding, temp, touched, token, ttl)
	if err != nil || !ok {
		return false, err
	}
	count := 0
	for after := int64(0); ; {
		page, err := c.source.OptedOut(ctx, workspace, after, pageSize)
		if err != nil {
			c.rebuildStep(ctx, releaseScript, rebuilding, token) // let the next check try again at once
			return false, err
		}
		if len(page) == 0 {
			break
		}
		args := []any{rebuilding, temp, touched, token, ttl}
		for _, contact := range page {
			args = append(args, member(contact.URN))
		}
		if ok, err := c.rebuildStep(ctx, addScript, args...); err != nil || !ok {
			return false, err
		}
		count += len(page)
		after = page[len(page)-1].ID
	}
	if ok, err := c.rebuildStep(ctx, finishScript, rebuilding, temp, touched, live, token, completeMember); err != nil || !ok {
		return false, err
	}
	c.log.Debug("rebuilt a workspace's opted-out set", "workspace", workspace, "contacts", count)
	return true, nil
}

func (c *Coordinator) rebuildStep(ctx context.Context, script *redis.Script, keysAndArgs ...any) (bool, error) {
	var ok bool
	err := c.do(ctx, func(conn redis.Conn) error {
		n, err := redis.Int(script.DoContext(ctx, conn, keysAndArgs...))
		ok = n == 1
		return err
	})
	return ok, err
}
