package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema step of a store's embedded migrations.
type Migration struct {
	Version int    // NNNN of the file name, from 1, no gaps
	Name    string // the file name
	SQL     string // the statements
}

// LoadMigrations returns the migrations in dir of fsys in version order.
// File names are NNNN_name.sql; versions start at 1 and have no gaps.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %q: name must be NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// LatestVersion is the version of the last migration, 0 when there is none.
func LatestVersion(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// ErrSchemaTooNew is wrapped by a store's Open error when the database was
// written by a newer onepam.
var ErrSchemaTooNew = errors.New("database schema is newer than this onepam supports")

// SchemaTooNewError is the refusal of a database from a newer onepam.
type SchemaTooNewError struct{ Have, Supported int }

func (e SchemaTooNewError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this onepam supports (%d); upgrade onepam", e.Have, e.Supported)
}

func (e SchemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }
