package postgres

import (
	"database/sql"

	"github.com/onepam/onepam/control/store/sqlstore"
)

// dialect is PostgreSQL's for the shared store: $n placeholders, and
// FOR SHARE where a row read in a write transaction must not be deleted
// by another node before it commits.
var dialect = sqlstore.Dialect{
	UnionBranch: func(q string) string { return `(` + q + `)` },
	Dollar:      true,
	IsUnique:    isUnique,
	ForShare:    ` FOR SHARE`,
	ForUpdate:   ` FOR UPDATE`,
	// A statement takes at most 65535 parameters: 500 × 21, 2000 × 7.
	BulkSessionRows:  500,
	BulkTimelineRows: 2000,
	BulkInsert:       `INSERT`,
	// The advisory lock's key is "onepam-r" (0x6f6e6570616d2d72).
	ResourcesLock: `SELECT pg_advisory_xact_lock(8029466718993460594)`,
	UpsertResource: `INSERT INTO resources (name, agent_id, type, labels, description, address, protocol)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET agent_id = excluded.agent_id, type = excluded.type,
			labels = excluded.labels, description = excluded.description, address = excluded.address, protocol = excluded.protocol`,
	HasLabels: func(col string, labels map[string]string) ([]string, []any, error) {
		j, err := toJSON(labels, "{}")
		if err != nil {
			return nil, nil, err
		}
		return []string{col + ` @> ?::jsonb`}, []any{j}, nil
	},
	ReadTx: &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
	HasPrefix: func(col, prefix string) (string, []any) {
		return `starts_with(` + col + `, ?)`, []any{prefix}
	},
	In: func(col string, vals []string) (string, []any) {
		return col + ` = ANY(?)`, []any{vals}
	},
	IsForeignKey: isForeignKey,
	LockTable: func(table string) string {
		return `LOCK TABLE ` + table + ` IN SHARE ROW EXCLUSIVE MODE`
	},
	Shared:   true,
	Greatest: `GREATEST`,
	Int64:    `BIGINT`,
	// Every missing migration in one transaction holding an advisory
	// lock ("onepam-m"): a node opening the database at once waits, then
	// finds the schema current.
	MigrationLock: `SELECT pg_advisory_xact_lock(8029466718993460589)`,
	MigrateAtOnce: true,
	Text:          textIndex,
	TryLock:       `SELECT pg_try_advisory_lock(?)`,
	Unlock:        `SELECT pg_advisory_unlock(?)`,
}
