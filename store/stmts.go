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
	// The page queries (feed.go), by [timeline][after a cursor], and the
	// plain ones by [visitor][timeline][after a cursor].
	page               [2][2]*sql.Stmt
	plain              [2][2][2]*sql.Stmt
	authUser, postByID *sql.Stmt
	// On the writer: use through tx.StmtContext.
	insertPost                          *sql.Stmt
	savepoint, rollbackTo, releaseWrite *sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	st := &statements{}
	type prepared struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}
	var pages []prepared
	for _, timeline := range []bool{false, true} {
		for _, after := range []bool{false, true} {
			pages = append(pages, prepared{&st.page[b2i(timeline)][b2i(after)], s.reader, pageQuery(timeline, after)})
			for _, visitor := range []bool{false, true} {
				pages = append(pages, prepared{&st.plain[b2i(visitor)][b2i(timeline)][b2i(after)], s.reader,
					plainQuery(timeline, after, visitor)})
			}
		}
	}
	for _, p := range append(pages, []prepared{
		{&st.authUser, s.reader, authUserQuery},
		{&st.postByID, s.reader, postByIDQuery()},
		{&st.insertPost, s.writer, insertPostQuery},
		{&st.savepoint, s.writer, `SAVEPOINT write`},
		{&st.rollbackTo, s.writer, `ROLLBACK TO write`},
		{&st.releaseWrite, s.writer, `RELEASE write`},
	}...) {
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
	all := []*sql.Stmt{st.authUser, st.postByID, st.insertPost, st.savepoint, st.rollbackTo, st.releaseWrite}
	for i := range st.page {
		for j := range st.page[i] {
			all = append(all, st.page[i][j], st.plain[0][i][j], st.plain[1][i][j])
		}
	}
	for _, stmt := range all {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}

// b2i indexes the statement arrays by a condition.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
