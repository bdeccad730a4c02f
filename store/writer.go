package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
)

// Writes go through one goroutine that owns the single writer connection
// and commits them in groups: the writes waiting when a transaction starts
// run together in it, each inside a savepoint of its own, and all of them
// are acknowledged after the one COMMIT. A failing write rolls back to its
// savepoint only, so its neighbours are unaffected; a write is never
// acknowledged before its commit. Under load this turns N transactions into
// one (BEGIN and COMMIT dominate a small write); alone, a write is its own
// transaction as before.

// maxBatch bounds how many writes share one transaction.
const maxBatch = 64

// ErrClosed means the store was closed.
var ErrClosed = errors.New("store: closed")

type writeRequest struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
	// committed, if set, runs on the write goroutine once fn's changes
	// have committed and before any later write runs: the place to update
	// in-memory caches, in the order of the commits.
	committed func()
}

// startWriter starts the goroutine that runs every write.
func (s *Store) startWriter() {
	s.writes = make(chan *writeRequest)
	s.stopWriter = make(chan struct{})
	s.writerDone = make(chan struct{})
	go s.writeLoop()
}

func (s *Store) writeLoop() {
	defer close(s.writerDone)
	defer func() {
		// Writes and their hooks recover their own panics; one here is a
		// bug of the loop itself, and ends the process. Logging it at
		// error level first gets it, and the lines before it, written.
		if v := recover(); v != nil {
			s.log.Error("the write loop panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			panic(v)
		}
	}()
	batch := make([]*writeRequest, 0, maxBatch)
	for {
		select {
		case r := <-s.writes:
			batch = append(batch[:0], r)
		case <-s.stopWriter:
			return
		}
	collect:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				batch = append(batch, r)
			default:
				break collect
			}
		}
		s.runBatch(batch)
	}
}

// withTx runs fn inside a writer transaction (BEGIN IMMEDIATE), possibly
// shared with other writes, and returns once that transaction has
// committed, or fn's error. fn must use tx, never the pools, and must not
// call withTx.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.withTxThen(ctx, fn, nil)
}

// withTxThen is withTx with a function run after the commit, on the write
// goroutine, before the next write (see writeRequest.committed). Cache
// updates made there cannot race a later write: a post deleted and then
// created again under the same ID has its old cache entry dropped before
// the new row commits.
func (s *Store) withTxThen(ctx context.Context, fn func(tx *sql.Tx) error, committed func()) error {
	if s.writes == nil {
		return errors.New("store: opened without migrating, for schema maintenance only")
	}
	r := &writeRequest{ctx: ctx, fn: fn, done: make(chan error, 1), committed: committed}
	select {
	case s.writes <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stopWriter:
		return ErrClosed
	}
	// Once handed over, the write may already be running: wait for its
	// outcome even if ctx ends, so the caller never reports failure for a
	// write that committed. A full disk can fail any statement, or only
	// the commit; it is told apart here, for every write at once.
	err := <-r.done
	if err != nil && !errors.Is(err, ErrDiskFull) {
		if full := formatError(err); errors.Is(full, ErrDiskFull) {
			return full
		}
	}
	return err
}

func (s *Store) runBatch(batch []*writeRequest) {
	results := make([]error, len(batch))
	tx, err := s.writer.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range batch {
			r.done <- err
		}
		return
	}
	shared := len(batch) > 1
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if shared {
			if _, err := tx.Stmt(s.stmts.savepoint).Exec(); err != nil {
				results[i] = err
				continue
			}
		}
		results[i] = runWrite(r.fn, tx)
		if !shared {
			break
		}
		if results[i] != nil {
			_, rbErr := tx.Stmt(s.stmts.rollbackTo).Exec()
			results[i] = errors.Join(results[i], rbErr)
		}
		if _, err := tx.Stmt(s.stmts.releaseWrite).Exec(); err != nil && results[i] == nil {
			results[i] = err
		}
	}
	if !shared && results[0] != nil {
		tx.Rollback()
	} else if err := tx.Commit(); err != nil {
		// Nothing of this transaction is stored: every write in it fails.
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
	}
	for i, r := range batch {
		if results[i] == nil && r.committed != nil {
			s.runCommitted(r)
		}
		r.done <- results[i]
	}
}

// runCommitted runs a write's post-commit hook. A hook that panics has
// left the caches half-updated: the panic is logged, with the request's
// context (and so its ID), and the feed cache emptied, which is always
// correct, since every page can be read from the table. The write itself
// committed, so it is not reported as failed, and the write loop goes on.
func (s *Store) runCommitted(r *writeRequest) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		s.cache.reset()
		s.accounts.forget()
		s.log.ErrorContext(r.ctx, "a post-commit hook panicked; the feed and account caches were emptied",
			"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	}()
	r.committed()
}

// runWrite runs one write, turning a panic into an error so that one bad
// write cannot stop every other.
func runWrite(fn func(*sql.Tx) error, tx *sql.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("store: write panicked: %v", v)
		}
	}()
	return fn(tx)
}
