package postgres_test

import (
	"strconv"
	"testing"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/postgres"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/control/store/storetest"
)

// openTemp opens the store on a new database of its own.
func openTemp(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), pgtest.NewDatabase(t))
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

func TestPasswords(t *testing.T) {
	storetest.RunPasswords(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func itoa(n int) string { return strconv.Itoa(n) }
