package storetest

import (
	"context"
	"database/sql/driver"
	"sync/atomic"
)

// Counter wraps a database/sql driver and counts every statement its
// connections run (queries and execs, prepared or not). Pass Wrap as
// store.Options.WrapReader.
type Counter struct {
	n atomic.Int64
}

// Count is the number of statements run so far.
func (c *Counter) Count() int64 { return c.n.Load() }

// Wrap returns d with counting connections.
func (c *Counter) Wrap(d driver.Driver) driver.Driver { return countingDriver{d, c} }

type countingDriver struct {
	driver.Driver
	c *Counter
}

func (d countingDriver) Open(name string) (driver.Conn, error) {
	conn, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{conn, d.c}, nil
}

// countingConn forwards to the real connection and counts. The real
// connection (modernc's) implements all of these interfaces.
type countingConn struct {
	driver.Conn
	c *Counter
}

func (cc *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := cc.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &countingStmt{st, cc.c}, nil
}

func (cc *countingConn) Prepare(query string) (driver.Stmt, error) {
	return cc.PrepareContext(context.Background(), query)
}

func (cc *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return cc.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (cc *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cc.c.n.Add(1)
	return cc.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
}

func (cc *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cc.c.n.Add(1)
	return cc.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (cc *countingConn) Ping(ctx context.Context) error {
	if p, ok := cc.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (cc *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := cc.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

type countingStmt struct {
	driver.Stmt
	c *Counter
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.c.n.Add(1)
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.c.n.Add(1)
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}
