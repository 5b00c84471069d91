package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Group commit: the changes of one contact each (a message, a consent change, a campaign event firing) that wait to
// be committed while another batch commits are written together, in one transaction whose statements each write the
// rows of all of them. Under load a message then costs a share of a transaction rather than a transaction of its
// own: its round trips to the database, and the database's flush to disk, are shared by the batch. A change that
// finds a committer free is written at once, alone, so a quiet store waits for nothing.
const (
	// how many changes one transaction writes at most
	groupCommitBatch = 64

	// how long a batch's transaction may take: it is no one caller's, so no caller's context bounds it
	groupCommitTimeout = 30 * time.Second
)

// groupCommitter writes the changes given to commit in batches, on committers of its own.
type groupCommitter struct {
	write func(ctx context.Context, changes []*Change) []error // one error, or nil, per change

	queue     chan *pendingChange
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type pendingChange struct {
	change *Change
	done   chan error
}

var errStoreClosed = errors.New("the store is closed")

// newGroupCommitter starts committers, each writing one batch at a time: PostgreSQL overlaps the transactions of
// several, where SQLite writes one transaction at a time whatever the number.
func newGroupCommitter(committers int, write func(ctx context.Context, changes []*Change) []error) *groupCommitter {
	g := &groupCommitter{write: write, queue: make(chan *pendingChange), closed: make(chan struct{})}
	for range committers {
		g.wg.Add(1)
		go g.run()
	}
	return g
}

// commit writes the change with whatever others are waiting, and returns once it is committed or refused. It waits
// for the batch even when ctx ends, since the change may be in it: the caller learns what became of its change.
func (g *groupCommitter) commit(ctx context.Context, c *Change) error {
	p := &pendingChange{change: c, done: make(chan error, 1)}
	select {
	case g.queue <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.closed:
		return errStoreClosed
	}
	return <-p.done
}

func (g *groupCommitter) run() {
	defer g.wg.Done()
	var next *pendingChange // held over from the last batch, which it couldn't join
	for {
		if next == nil {
			select {
			case next = <-g.queue:
			case <-g.closed:
				return
			}
		}
		select {
		case <-g.closed:
			next.done <- errStoreClosed
			return
		default:
		}
		batch, keys := []*pendingChange{next}, changeKeys(nil, next.change)
		next = nil

	gather:
		for len(batch) < groupCommitBatch {
			select {
			case p := <-g.queue:
				// two changes of one contact (or one message) go in turn, the second seeing the first committed
				if overlaps(keys, p.change) {
					next = p
					break gather
				}
				keys = changeKeys(keys, p.change)
				batch = append(batch, p)
			default:
				break gather
			}
		}
		g.commitBatch(batch)
	}
}

func (g *groupCommitter) commitBatch(batch []*pendingChange) {
	changes := make([]*Change, len(batch))
	for i, p := range batch {
		changes[i] = p.change
	}
	ctx, cancel := context.WithTimeout(context.Background(), groupCommitTimeout)
	defer cancel()
	for i, err := range g.write(ctx, changes) {
		batch[i].done <- err
	}
}

func (g *groupCommitter) close() {
	g.closeOnce.Do(func() { close(g.closed) })
	g.wg.Wait()
}

// changeKeys adds to keys what no two changes of one batch may share: the contacts they write, the message and the
// campaign fire they record.
func changeKeys(keys map[string]bool, c *Change) map[string]bool {
	if keys == nil {
		keys = map[string]bool{}
	}
	for _, k := range keysOf(c) {
		keys[k] = true
	}
	return keys
}

func overlaps(keys map[string]bool, c *Change) bool {
	for _, k := range keysOf(c) {
		if keys[k] {
			return true
		}
	}
	return false
}

func keysOf(c *Change) []string {
	keys := make([]string, 0, 4)
	for _, contact := range c.Contacts {
		keys = append(keys, "contact "+c.Workspace+" "+string(contact.UUID))
	}
	if c.Session != nil {
		keys = append(keys, "contact "+c.Workspace+" "+string(c.Session.ContactUUID))
	}
	for _, uuid := range c.EndSessions {
		keys = append(keys, "contact "+c.Workspace+" "+string(uuid))
	}
	if c.Message != nil {
		keys = append(keys, "message "+c.Workspace+" "+string(c.Message.UUID))
	}
	if f := c.CampaignFire; f != nil {
		keys = append(keys, "fire "+c.Workspace+" "+string(f.Event)+" "+string(f.ContactUUID))
	}
	return keys
}
