package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

// TestConcurrentWriters runs many goroutines writing and reading at once,
// through two Store values on one file (as two processes would), and
// expects no error (in particular no SQLITE_BUSY) and every write kept.
func TestConcurrentWriters(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "onepam.db")
	var stores []*sqlite.Store
	for range 2 {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*4)
	for w := range workers {
		s := stores[w%2]
		wg.Go(func() {
			for i := range each {
				sess := api.Session{ID: store.NewID(), User: fmt.Sprintf("u%d", w), Type: api.TypeTCP,
					Status: api.StatusPending, Resource: "echo"}
				if err := s.CreateSession(ctx, sess); err != nil {
					errs <- err
					continue
				}
				if _, err := s.Transition(ctx, sess.ID, store.Transition{To: api.StatusActive}); err != nil {
					errs <- err
				}
				if err := s.AddSessionBytes(ctx, sess.ID, 1, 2); err != nil {
					errs <- err
				}
				if err := s.AddAudit(ctx, api.AuditEvent{Actor: sess.User, Action: "session.create", Target: sess.ID}); err != nil {
					errs <- err
				}
				if _, _, err := s.ListSessions(ctx, store.SessionFilter{Users: []string{sess.User}, Limit: 10}); err != nil {
					errs <- fmt.Errorf("list %d: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent operation failed: %v", err)
	}
	counts, err := stores[0].CountSessions(ctx)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	if got := counts[api.TypeTCP][api.StatusActive]; got != workers*each {
		t.Fatalf("active sessions: %d, want %d", got, workers*each)
	}
	audit, err := stores[1].ListAudit(ctx, store.AuditFilter{Limit: 10000})
	if err != nil || len(audit) != workers*each {
		t.Fatalf("audit events: %d (%v), want %d", len(audit), err, workers*each)
	}
}
