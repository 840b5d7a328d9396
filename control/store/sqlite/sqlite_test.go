package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/control/store/storetest"
)

// openTemp opens a new database in the test's temporary directory.
func openTemp(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "onepam.db"))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}
