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
	authUser                     *sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	st := &statements{}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.feedFirst, feedFirstQuery},
		{&st.feedAfter, feedAfterQuery},
		{&st.timelineFirst, timelineFirstQuery},
		{&st.timelineAfter, timelineAfterQuery},
		{&st.authUser, authUserQuery},
	} {
		stmt, err := s.reader.PrepareContext(ctx, p.query)
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
	for _, stmt := range []*sql.Stmt{st.feedFirst, st.feedAfter, st.timelineFirst, st.timelineAfter, st.authUser} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}
