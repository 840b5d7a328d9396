package sqlite

import (
	"database/sql"
	"sort"

	"github.com/onepam/onepam/control/store/sqlstore"
)

// dialect is SQLite's for the shared store: ? placeholders, and no row
// locks, since every write transaction begins IMMEDIATE on the one write
// connection. For the same reason migrations need no lock statement: each
// is applied in a transaction of its own, which re-reads the version
// under the write lock, so two processes opening one file cannot both
// apply it.
var dialect = sqlstore.Dialect{
	ReadTx: &sql.TxOptions{ReadOnly: true},
	// A list query's branches name their index, and a branch with its
	// own ORDER BY and LIMIT is a subquery in a UNION ALL.
	IndexedBy:   true,
	UnionBranch: func(q string) string { return `SELECT * FROM (` + q + `)` },
	// 40 × 21 and 140 × 7 parameters per statement.
	BulkSessionRows:  40,
	BulkTimelineRows: 140,
	BulkInsert:       `INSERT OR ROLLBACK`,
	UpsertResource: `INSERT OR REPLACE INTO resources (name, agent_id, type, labels, description, address, protocol)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
	HasLabels: func(col string, labels map[string]string) ([]string, []any, error) {
		keys := make([]string, 0, len(labels))
		for k := range labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var (
			conds []string
			args  []any
		)
		for _, k := range keys {
			conds = append(conds, `EXISTS (SELECT 1 FROM json_each(`+col+`) j WHERE j.key = ? AND j.value = ?)`)
			args = append(args, k, labels[k])
		}
		return conds, args, nil
	},
	IsUnique: isUnique,
	Greatest: `MAX`,
	Int64:    `INTEGER`,
	Text:     textIndex,
	HasPrefix: func(col, prefix string) (string, []any) {
		return `substr(` + col + `, 1, length(?)) = ?`, []any{prefix, prefix}
	},
	In: func(col string, vals []string) (string, []any) {
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		return col + ` IN (` + placeholders(len(vals)) + `)`, args
	},
}
