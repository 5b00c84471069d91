package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const lockedURN = "whatsapp:5511999990001"

// Holders of a contact's lock, in this process and, on PostgreSQL, in another, exclude each other.
func TestLockContactExcludes(t *testing.T) {
	const holders, rounds = 6, 5

	eachDB(t, func(t *testing.T, db *testDB) {
		stores := lockingStores(t, db)

		var inside, entered atomic.Int32
		var wg sync.WaitGroup
		for h := range holders {
			s := stores[h%2]
			wg.Go(func() {
				for range rounds {
					unlock, err := s.LockContact(t.Context(), "acme", lockedURN)
					if !assert.NoError(t, err) {
						return
					}
					assert.Equal(t, int32(1), inside.Add(1), "two holders of one contact's lock")
					entered.Add(1)
					time.Sleep(2 * time.Millisecond)
					inside.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(holders*rounds), entered.Load())

		for _, s := range stores {
			assertLocksReleased(t, s)
		}
	})
}

func TestLockContactWaitsUntilDone(t *testing.T) {
	eachDB(t, func(t *testing.T, db *testDB) {
		stores := lockingStores(t, db)

		unlock, err := stores[0].LockContact(t.Context(), "acme", lockedURN)
		require.NoError(t, err)

		// another contact, or the same URN in another workspace, isn't locked
		for _, s := range stores {
			other, err := s.LockContact(t.Context(), "acme", "whatsapp:5511999990002")
			require.NoError(t, err)
			other()
			other, err = s.LockContact(t.Context(), "other", lockedURN)
			require.NoError(t, err)
			other()
		}

		// the contact is, until the context is done
		for _, s := range stores {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			start := time.Now()
			_, err = s.LockContact(ctx, "acme", lockedURN)
			cancel()
			assert.Error(t, err)
			assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
		}

		// a waiter gets it when it's released, even by a holder whose context is done
		acquired := make(chan func())
		go func() {
			unlock2, err := stores[1].LockContact(t.Context(), "acme", lockedURN)
			assert.NoError(t, err)
			acquired <- unlock2
		}()
		select {
		case <-acquired:
			t.Fatal("locked a contact that is locked")
		case <-time.After(50 * time.Millisecond):
		}
		unlock()
		unlock() // again, which does nothing
		select {
		case unlock2 := <-acquired:
			unlock2()
		case <-time.After(5 * time.Second):
			t.Fatal("the lock wasn't released")
		}

		ctx, cancel := context.WithCancel(t.Context())
		unlock, err = stores[0].LockContact(ctx, "acme", lockedURN)
		require.NoError(t, err)
		cancel()
		unlock()
		unlock, err = stores[1].LockContact(t.Context(), "acme", lockedURN)
		require.NoError(t, err)
		unlock()

		for _, s := range stores {
			assertLocksReleased(t, s)
		}
	})
}

// lockingStores are two stores whose contact locks exclude each other's: two stores on PostgreSQL, as in two
// processes, and one store twice on SQLite, whose file one process owns.
func lockingStores(t *testing.T, db *testDB) []Store {
	s := db.open(t)
	if db.dialect == sqliteDialect {
		return []Store{s, s}
	}
	return []Store{s, db.open(t)}
}

// assertLocksReleased asserts that the store holds no contact's lock, and no connection for one.
func assertLocksReleased(t *testing.T, s Store) {
	t.Helper()
	st := s.(*store)
	st.contactLocks.mu.Lock()
	assert.Empty(t, st.contactLocks.mutexes)
	st.contactLocks.mu.Unlock()
	if st.lockDB != nil {
		assert.Zero(t, st.lockDB.Stats().InUse)
	}
}
