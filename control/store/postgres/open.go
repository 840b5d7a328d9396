package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlstore"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store in one PostgreSQL database.
type Store struct {
	*sqlstore.Core
	cfg config
	db  *sql.DB
}

// config holds Open's settings; withDefaults fills the unset ones.
type config struct {
	now      func() time.Time
	log      *slog.Logger
	maxConns int
}

func (c config) withDefaults() config {
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.maxConns <= 0 {
		c.maxConns = 16
	}
	return c
}

// Option changes one setting of Open.
type Option func(*config)

// WithClock sets the clock used for times the caller did not give
// (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithMaxConns sets the most connections the store opens (default 16).
func WithMaxConns(n int) Option { return func(c *config) { c.maxConns = n } }

// Open connects to the database of url (a postgres:// URL or a key=value
// connection string, as libpq takes), applies pending migrations and
// returns the store. It refuses a database whose schema is newer than this
// binary knows (an error wrapping ErrSchemaTooNew).
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	cfg = cfg.withDefaults()
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		// The parser's message may quote the URL, password included.
		return nil, fmt.Errorf("open database: malformed connection string")
	}
	where := fmt.Sprintf("%s:%d/%s", cc.Host, cc.Port, cc.Database)
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(cfg.maxConns)
	db.SetMaxIdleConns(cfg.maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", where, err)
	}
	if err := schema.Migrate(ctx, db, cfg.now); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", where, err)
	}
	cfg.log.Debug("database open", "database", where, "max_conns", cfg.maxConns)
	return &Store{Core: sqlstore.New(dialect, db, db, cfg.now), cfg: cfg, db: db}, nil
}

// Close releases the locks the store holds and closes the connection
// pool.
func (s *Store) Close() error {
	s.ReleaseLocks()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}
