package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlstore"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store in one SQLite database file.
type Store struct {
	*sqlstore.Core
	cfg   config
	read  *sql.DB // several connections, query_only
	write *sql.DB // exactly one connection, BEGIN IMMEDIATE
}

// config holds Open's settings; withDefaults fills the unset ones.
type config struct {
	now         func() time.Time
	log         *slog.Logger
	readConns   int
	busyTimeout time.Duration
	writeCache  int // page cache of the write connection, bytes
	readCache   int // page cache of each read connection, bytes
}

func (c config) withDefaults() config {
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.readConns <= 0 {
		c.readConns = max(4, runtime.GOMAXPROCS(0))
	}
	if c.busyTimeout <= 0 {
		c.busyTimeout = 5 * time.Second
	}
	if c.writeCache <= 0 {
		c.writeCache = 64 << 20
	}
	if c.readCache <= 0 {
		c.readCache = 16 << 20
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

// WithReadConns sets the size of the read pool (default max(4, GOMAXPROCS)).
func WithReadConns(n int) Option { return func(c *config) { c.readConns = n } }

// WithBusyTimeout sets how long SQLite waits for a lock held by another
// process before failing (default 5s).
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithCacheSize sets the page cache of the write connection and of each
// read connection (defaults 64 MiB and 16 MiB). A write cache that holds a
// transaction's dirty pages keeps SQLite from spilling them to the WAL
// more than once.
func WithCacheSize(write, read int) Option {
	return func(c *config) { c.writeCache, c.readCache = write, read }
}

// Open opens (creating if needed) the database at path, applies pending
// migrations and returns the store. It refuses a database whose schema is
// newer than this binary knows (an error wrapping ErrSchemaTooNew).
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	cfg = cfg.withDefaults()
	if path == "" {
		return nil, fmt.Errorf("open database: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	s := &Store{cfg: cfg}
	s.write, err = sql.Open("sqlite", dsn(abs, cfg, false))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)
	// The write connection opens first: it switches the file to WAL and
	// runs the migrations before any reader looks at the schema.
	if err := s.write.PingContext(ctx); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := schema.Migrate(ctx, s.write, cfg.now); err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	s.read, err = sql.Open("sqlite", dsn(abs, cfg, true))
	if err != nil {
		s.write.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	s.read.SetMaxOpenConns(cfg.readConns)
	s.read.SetMaxIdleConns(cfg.readConns)
	if err := s.read.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	s.Core = sqlstore.New(dialect, s.read, s.write, cfg.now)
	cfg.log.Debug("database open", "path", abs, "read_conns", cfg.readConns)
	return s, nil
}

// dsn builds the driver's connection string: a file: URI (so any path
// works, escaped) with the connection pragmas.
func dsn(abs string, cfg config, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Statement journals and sort spills stay in memory, not temp files.
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -cfg.readCache/1024))
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -cfg.writeCache/1024))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Close runs PRAGMA optimize (refreshing the query planner's statistics
// where they are stale) and closes both pools.
func (s *Store) Close() error {
	var errs []error
	if s.write != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := s.write.ExecContext(ctx, "PRAGMA optimize"); err != nil {
			s.cfg.log.Warn("database optimize at close failed", "err", err)
		}
		cancel()
	}
	if s.read != nil {
		if err := s.read.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.write != nil {
		if err := s.write.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("close database: %w", errs[0])
	}
	return nil
}
