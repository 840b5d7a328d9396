package sqlstore

import (
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// Dialect says how one database differs from the SQL the shared code
// writes.
type Dialect struct {
	// Dollar: placeholders are $1, $2, ... (PostgreSQL) instead of ?.
	Dollar bool
	// IsUnique reports whether err is a unique or primary key violation.
	IsUnique func(err error) bool
	// ForShare is appended to a SELECT that must hold its rows against
	// concurrent deletion until the transaction ends ("" where the
	// transaction already excludes other writers).
	ForShare string
	// ForUpdate is appended to a SELECT whose rows the transaction will
	// update, locking them until it ends ("" where the transaction
	// already excludes other writers).
	ForUpdate string
	// BulkSessionRows and BulkTimelineRows are the rows per multi-row
	// INSERT of BulkInsertSessions, and BulkInsert its verb.
	BulkSessionRows, BulkTimelineRows int
	BulkInsert                        string
	// ResourcesLock is the statement SetAgentResources runs first, to
	// apply one inventory at a time ("" where writes are serialised).
	ResourcesLock string
	// UpsertResource inserts or replaces a resource by name, from the
	// values (name, agent_id, type, labels, description, address,
	// protocol).
	UpsertResource string
	// HasLabels returns the conditions "the JSON object col holds every
	// key and value of labels" and their arguments.
	HasLabels func(col string, labels map[string]string) ([]string, []any, error)
	// IndexedBy: each branch of a session list query names the index
	// that serves it in id order (SQLite's INDEXED BY), so the plan is
	// the builder's, not the planner's (see SessionQuery).
	IndexedBy bool
	// UnionBranch returns a branch of a session list query (a SELECT
	// with its own ORDER BY and LIMIT) as it stands in a UNION ALL.
	UnionBranch func(q string) string
	// ReadTx are the options of the read transaction that reads a page
	// of sessions and their timelines as one snapshot.
	ReadTx *sql.TxOptions
	// HasPrefix returns the condition "col starts with the argument" and
	// its arguments.
	HasPrefix func(col string, prefix string) (string, []any)
	// In returns the condition "col is one of vals" and its arguments.
	In func(col string, vals []string) (string, []any)
	// IsForeignKey reports whether err is a foreign key violation that
	// the store reports as ErrNotFound (nil: none is).
	IsForeignKey func(err error) bool
	// LockTable returns the statement that locks table against other
	// writers until the transaction ends (nil: no statement needed).
	LockTable func(table string) string
	// Shared: several control nodes may use the database at once
	// (PostgreSQL); otherwise one control process does (SQLite).
	Shared bool
	// TryLock takes a lock of the database session by its int64 key
	// without waiting, answering one boolean, and Unlock releases it
	// (PostgreSQL's advisory locks); "" where the database has none and
	// the lock is the Core's own (one process).
	TryLock, Unlock string
	// Int64 is the type of a 64-bit integer column (INTEGER, BIGINT).
	Int64 string
	// MigrationLock is the statement each migration transaction runs
	// first, to serialise the processes opening one database at once (""
	// where beginning the transaction takes the write lock).
	MigrationLock string
	// MigrateAtOnce: Migrate applies every missing migration in one
	// transaction, instead of one transaction per migration.
	MigrateAtOnce bool
	// Greatest is the function of the larger of two values (GREATEST,
	// or SQLite's two-argument MAX).
	Greatest string
	// Text is how the database keeps and searches recording text.
	Text TextIndex
}

// isForeignKey applies IsForeignKey where the dialect has one.
func (d Dialect) isForeignKey(err error) bool {
	return err != nil && d.IsForeignKey != nil && d.IsForeignKey(err)
}

// lockTable applies LockTable where the dialect has one.
func (d Dialect) lockTable(table string) string {
	if d.LockTable == nil {
		return ""
	}
	return d.LockTable(table)
}

// rebinder turns the shared statements' "?" into the dialect's
// placeholders, caching each statement's text.
type rebinder struct {
	dollar bool
	mu     sync.RWMutex
	cache  map[string]string
}

// maxCached bounds the cache against statements built with unbounded
// variety; a statement past it is rebound on every use.
const maxCached = 4096

// maxCachedLen bounds the statements cached: a longer one (a multi-row
// INSERT) is rebound on every use.
const maxCachedLen = 4096

func newRebinder(dollar bool) *rebinder {
	return &rebinder{dollar: dollar, cache: make(map[string]string)}
}

// bind returns q in the dialect's placeholders.
func (r *rebinder) bind(q string) string {
	if !r.dollar || !strings.Contains(q, "?") {
		return q
	}
	r.mu.RLock()
	b, ok := r.cache[q]
	r.mu.RUnlock()
	if ok {
		return b
	}
	b = Rebind(q)
	r.mu.Lock()
	if len(r.cache) < maxCached && len(q) <= maxCachedLen {
		r.cache[q] = b
	}
	r.mu.Unlock()
	return b
}

// Rebind replaces each "?" of q outside quotes with $1, $2, ... in order.
func Rebind(q string) string { return rebindFrom(q, 0) }

// rebindFrom replaces each "?" of q outside quotes with $n+1, $n+2, ...
// in order.
func rebindFrom(q string, n int) string {
	var b strings.Builder
	b.Grow(len(q) + 8)
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
