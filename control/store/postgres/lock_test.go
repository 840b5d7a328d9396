package postgres_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/onepam/onepam/control/store/postgres"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/control/store/sqlite"
)

// catchUpLocker is the lock both stores give the search index catch-up.
type catchUpLocker interface {
	TryCatchUpLock(ctx context.Context) (release func(), ok bool, err error)
	Close() error
}

// TestCatchUpLock checks that one holder at a time gets the catch-up
// lock: on PostgreSQL across stores (control nodes) on one database,
// and given back when the holder's store closes (a node that dies); on
// SQLite within one store (the one process that uses its file).
func TestCatchUpLock(t *testing.T) {
	cases := []struct {
		name string
		// open returns two holders; closeFrees says whether closing the
		// first frees the lock for the second.
		open       func(t *testing.T) (a, b catchUpLocker)
		closeFrees bool
	}{
		{"postgres: two nodes on one database", func(t *testing.T) (catchUpLocker, catchUpLocker) {
			url := pgtest.NewDatabase(t)
			var ss [2]*postgres.Store
			for i := range ss {
				s, err := postgres.Open(t.Context(), url)
				mustT(t, err)
				t.Cleanup(func() { s.Close() })
				ss[i] = s
			}
			return ss[0], ss[1]
		}, true},
		{"sqlite: one store", func(t *testing.T) (catchUpLocker, catchUpLocker) {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "onepam.db"))
			mustT(t, err)
			t.Cleanup(func() { s.Close() })
			return s, s
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			a, b := tc.open(t)
			take := func(who string, l catchUpLocker, want bool) func() {
				t.Helper()
				release, ok, err := l.TryCatchUpLock(ctx)
				if err != nil || ok != want {
					t.Fatalf("%s: lock taken %v, %v; want %v", who, ok, err, want)
				}
				return release
			}
			release := take("first holder", a, true)
			take("second holder while the first holds it", b, false)
			take("first holder again while it holds it", a, false)
			release()
			release() // a second release is harmless
			release = take("second holder after the release", b, true)
			take("first holder while the second holds it", a, false)
			release()
			if !tc.closeFrees {
				return
			}
			take("first holder", a, true) // never released: its store closes
			take("second holder", b, false)
			mustT(t, a.Close())
			take("second holder after the first's store closed", b, true)()
		})
	}
}
