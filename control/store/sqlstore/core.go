package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Core is the shared part of a store: its methods implement the parts of
// store.Store whose logic is the same on every database.
type Core struct {
	d     Dialect
	read  DB
	write DB
	now   func() time.Time
	locks processLocks // TryCatchUpLock where the dialect has no TryLock
}

// New returns a Core that reads through read and writes through write
// (the same pool where the database has one), with now as its clock.
func New(d Dialect, read, write *sql.DB, now func() time.Time) *Core {
	rb := newRebinder(d.Dollar)
	return &Core{d: d, read: DB{read, rb}, write: DB{write, rb}, now: now}
}

// InTx runs fn in one write transaction, committing when it returns nil
// and rolling back otherwise.
func (c *Core) InTx(ctx context.Context, fn func(tx Tx) error) error {
	tx, err := c.write.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(Tx{tx, c.write.rb}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// DB is a pool whose statements are rebound to the dialect.
type DB struct {
	db *sql.DB
	rb *rebinder
}

// ExecContext runs a statement.
func (d DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return d.db.ExecContext(ctx, d.rb.bind(q), args...)
}

// QueryContext runs a query.
func (d DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return d.db.QueryContext(ctx, d.rb.bind(q), args...)
}

// QueryRowContext runs a query of at most one row.
func (d DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return d.db.QueryRowContext(ctx, d.rb.bind(q), args...)
}

// Tx is a transaction whose statements are rebound to the dialect.
type Tx struct {
	tx *sql.Tx
	rb *rebinder
}

// ExecContext runs a statement.
func (t Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.rb.bind(q), args...)
}

// QueryContext runs a query.
func (t Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.rb.bind(q), args...)
}

// QueryRowContext runs a query of at most one row.
func (t Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.rb.bind(q), args...)
}

// NewTx wraps a transaction begun by the caller, its statements rebound
// to d (without the cache of a Core).
func NewTx(tx *sql.Tx, d Dialect) Tx { return Tx{tx, newRebinder(d.Dollar)} }

// PrepareContext prepares a statement.
func (t Tx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, t.rb.bind(q))
}

// Raw is the underlying transaction, for statements the caller writes in
// the dialect's own placeholders.
func (t Tx) Raw() *sql.Tx { return t.tx }

// queryer is what both DB and Tx offer for reads.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// queryAll runs q on db and returns every row as scan reads it; what
// names the query in errors ("list agents: ...").
func queryAll[T any](ctx context.Context, db queryer, what string, scan func(rowScanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
