package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"

	"github.com/nyaruka/gocommon/urns"
)

// LockContact takes the in-process lock first, so that one process waits for a contact with one connection at most,
// and then, on PostgreSQL, a session-level advisory lock on a connection that it keeps until unlock. If waiting for
// the advisory lock fails or is cancelled, the connection is closed rather than returned to the pool, since only
// closing it is sure to release a lock that PostgreSQL granted as the wait was being cancelled.
func (s *store) LockContact(ctx context.Context, workspace string, urn urns.URN) (func(), error) {
	key := workspace + "/" + string(urn)

	release, err := s.contactLocks.lock(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("locking contact %s: %w", urn, err)
	}
	if s.dialect.lockContact == "" {
		return release, nil
	}

	conn, err := s.lockDB.Conn(ctx)
	if err != nil {
		release()
		return nil, fmt.Errorf("locking contact %s: %w", urn, err)
	}
	if _, err := conn.ExecContext(ctx, s.dialect.lockContact, key); err != nil {
		discard(conn)
		release()
		return nil, fmt.Errorf("locking contact %s: %w", urn, err)
	}

	return sync.OnceFunc(func() {
		// the caller's context may be done by now, and the lock must be released all the same
		ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
		defer cancel()

		if _, err := conn.ExecContext(ctx, s.dialect.unlockContact, key); err != nil {
			discard(conn) // ending the session releases its locks
		} else {
			conn.Close()
		}
		release()
	}), nil
}

// discard closes a connection instead of returning it to its pool: database/sql closes a connection that Raw's
// function says is bad.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
}

// keyedMutex is a set of mutexes by key, each made when it's first needed and dropped when no one holds it or waits
// for it, and waited for until a context is done.
type keyedMutex struct {
	mu      sync.Mutex
	mutexes map[string]*waitableMutex
}

type waitableMutex struct {
	held chan struct{} // has a value while the mutex is held
	refs int           // its holder and those waiting for it, guarded by the keyedMutex's mu
}

// lock locks the mutex of key, or fails when ctx is done first, and returns the function that unlocks it, which can
// be called more than once.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.mutexes == nil {
		k.mutexes = map[string]*waitableMutex{}
	}
	m := k.mutexes[key]
	if m == nil {
		m = &waitableMutex{held: make(chan struct{}, 1)}
		k.mutexes[key] = m
	}
	m.refs++
	k.mu.Unlock()

	select {
	case m.held <- struct{}{}:
		return sync.OnceFunc(func() {
			<-m.held
			k.drop(key, m)
		}), nil
	case <-ctx.Done():
		k.drop(key, m)
		return nil, ctx.Err()
	}
}

func (k *keyedMutex) drop(key string, m *waitableMutex) {
	k.mu.Lock()
	defer k.mu.Unlock()

	m.refs--
	if m.refs == 0 {
		delete(k.mutexes, key)
	}
}
