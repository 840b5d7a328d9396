package control

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/postgres"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

// database is what the server needs of its store: store.Store and the
// methods both implementations (store/sqlite, store/postgres) have
// beyond it.
type database interface {
	store.Store
	// Console passwords (auth, web login).
	SetUserPassword(ctx context.Context, name, password string) error
	CheckUserPassword(ctx context.Context, name, password string) (api.User, error)
	// Recording storage, verification and retention (control/recordings).
	AddAgentSigningKey(ctx context.Context, agentID string, key []byte, at time.Time) error
	AgentSigningKeys(ctx context.Context, agentID string) ([][]byte, error)
	GetSetting(ctx context.Context, key string) (string, bool, error)
	PutSetting(ctx context.Context, key, value, by string, at time.Time) error
	SetRecordingLocation(ctx context.Context, sessionID, storeName string, at time.Time) error
	RecordingLocation(ctx context.Context, sessionID string) (string, bool, error)
	ExpirableRecordings(ctx context.Context, before time.Time, limit int) ([]api.Session, error)
	// Recording text indexing (recordings.Indexer), one node at a time
	// for the catch-up.
	recordings.TextIndex
	recordings.CatchUpLocker
	// Shared reports whether several control nodes may use the database
	// at once (PostgreSQL) rather than one process (SQLite).
	Shared() bool
}

var (
	_ database = (*sqlite.Store)(nil)
	_ database = (*postgres.Store)(nil)
)

// IsPostgresURL reports whether a --store value names a PostgreSQL
// database (a postgres:// or postgresql:// URL) rather than the embedded
// SQLite database.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openDatabase opens the store cfg.Store names: the embedded SQLite
// database <DataDir>/onepam.db when empty, else a PostgreSQL URL.
func openDatabase(ctx context.Context, cfg Config) (database, error) {
	// Each case returns a nil interface on error, not a nil *Store in a
	// non-nil one (the server closes a non-nil store).
	switch {
	case cfg.Store == "":
		db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "onepam.db"), sqlite.WithClock(cfg.Clock), sqlite.WithLogger(cfg.Logger))
		if err != nil {
			return nil, err
		}
		return db, nil
	case IsPostgresURL(cfg.Store):
		db, err := postgres.Open(ctx, cfg.Store, postgres.WithClock(cfg.Clock), postgres.WithLogger(cfg.Logger))
		if err != nil {
			return nil, err
		}
		return db, nil
	default:
		return nil, fmt.Errorf("control: --store: want empty (the embedded SQLite database) or a postgres:// URL")
	}
}
