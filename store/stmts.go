package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// statements are the hot queries, prepared once on the read pool: parsing
// SQL is a fifth of a feed page's cost otherwise. database/sql prepares
// each on a connection the first time that connection runs it.
type statements struct {
	feedFirst, feedAfter         *sql.Stmt
	timelineFirst, timelineAfter *sql.Stmt
	// The feed without its cache (feed.go).
	plainFeedFirst, plainFeedAfter         *sql.Stmt
	plainTimelineFirst, plainTimelineAfter *sql.Stmt
	authUser, postByID                     *sql.Stmt
	// On the writer: use through tx.StmtContext.
	insertPost                          *sql.Stmt
	savepoint, rollbackTo, releaseWrite *sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	st := &statements{}
	for _, p := range []struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&st.feedFirst, s.reader, feedFirstQuery},
		{&st.feedAfter, s.reader, feedAfterQuery},
		{&st.timelineFirst, s.reader, timelineFirstQuery},
		{&st.timelineAfter, s.reader, timelineAfterQuery},
		{&st.plainFeedFirst, s.reader, plainFeedFirstQuery},
		{&st.plainFeedAfter, s.reader, plainFeedAfterQuery},
		{&st.plainTimelineFirst, s.reader, plainTimelineFirstQuery},
		{&st.plainTimelineAfter, s.reader, plainTimelineAfterQuery},
		{&st.authUser, s.reader, authUserQuery},
		{&st.postByID, s.reader, postByIDQuery},
		{&st.insertPost, s.writer, insertPostQuery},
		{&st.savepoint, s.writer, `SAVEPOINT write`},
		{&st.rollbackTo, s.writer, `ROLLBACK TO write`},
		{&st.releaseWrite, s.writer, `RELEASE write`},
	} {
		stmt, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			st.close()
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = stmt
	}
	s.stmts = st
	return nil
}

func (st *statements) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{st.feedFirst, st.feedAfter, st.timelineFirst, st.timelineAfter,
		st.plainFeedFirst, st.plainFeedAfter, st.plainTimelineFirst, st.plainTimelineAfter, st.authUser, st.postByID, st.insertPost, st.savepoint, st.rollbackTo, st.releaseWrite} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}
