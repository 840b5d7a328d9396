package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/onepam/onepam/control/store/postgres"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/pkg/api"
)

// rawExec runs statements on the database directly.
func rawExec(t *testing.T, url string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("raw connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("raw exec %q: %v", q, err)
		}
	}
}

// rawCount returns the single integer a query answers.
func rawCount(t *testing.T, url, q string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("raw connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatalf("raw query %q: %v", q, err)
	}
	return n
}

func TestMigrations(t *testing.T) {
	latest := postgres.LatestSchemaVersion()
	if latest < 1 {
		t.Fatalf("no embedded migrations (latest %d)", latest)
	}

	t.Run("reopen-keeps-data-and-does-not-migrate-again", func(t *testing.T) {
		ctx := t.Context()
		url := pgtest.NewDatabase(t)
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if err := s.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin}); err != nil {
			t.Fatalf("create user: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		s, err = postgres.Open(ctx, url)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer s.Close()
		if _, err := s.GetUser(ctx, "alice"); err != nil {
			t.Fatalf("user after reopen: %v", err)
		}
		if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
			t.Fatalf("schema version %d, %v; want %d", v, err, latest)
		}
		if n := rawCount(t, url, `SELECT COUNT(*) FROM schema_version`); n != latest {
			t.Fatalf("schema_version has %d rows, want %d", n, latest)
		}
	})

	t.Run("nodes-opening-at-once-migrate-once", func(t *testing.T) {
		ctx := t.Context()
		url := pgtest.NewDatabase(t)
		const nodes = 6
		var wg sync.WaitGroup
		errs := make([]error, nodes)
		stores := make([]*postgres.Store, nodes)
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stores[i], errs[i] = postgres.Open(ctx, url, postgres.WithMaxConns(2))
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("node %d: open: %v", i, err)
			}
			defer stores[i].Close()
		}
		if n := rawCount(t, url, `SELECT COUNT(*) FROM schema_version`); n != latest {
			t.Fatalf("schema_version has %d rows, want %d", n, latest)
		}
		// Every node sees the others' writes.
		for i, s := range stores {
			if err := s.CreateUser(ctx, api.User{Name: "user" + string(rune('a'+i)), Role: api.RoleUser}); err != nil {
				t.Fatalf("node %d: create user: %v", i, err)
			}
		}
		for i, s := range stores {
			if n, err := s.CountUsers(ctx); err != nil || n != nodes {
				t.Fatalf("node %d counts %d users (%v), want %d", i, n, err, nodes)
			}
		}
	})

	t.Run("newer-schema-is-refused", func(t *testing.T) {
		ctx := t.Context()
		url := pgtest.NewDatabase(t)
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		s.Close()
		rawExec(t, url, `INSERT INTO schema_version (version, applied_at) VALUES (`+itoa(latest+1)+`, 0)`)
		_, err = postgres.Open(ctx, url)
		if !errors.Is(err, postgres.ErrSchemaTooNew) {
			t.Fatalf("open of a newer schema: got %v, want ErrSchemaTooNew", err)
		}
	})

	t.Run("unreachable-server-is-an-error", func(t *testing.T) {
		// A port nothing listens on: the reserved port 1 of localhost.
		_, err := postgres.Open(t.Context(), "postgres://postgres@127.0.0.1:1/onepam?sslmode=disable&connect_timeout=5")
		if err == nil {
			t.Fatal("open of an unreachable server succeeded")
		}
	})

	t.Run("malformed-url-does-not-echo-the-password", func(t *testing.T) {
		_, err := postgres.Open(t.Context(), "postgres://u:s3cret@[::1/db")
		if err == nil {
			t.Fatal("open of a malformed URL succeeded")
		}
		if got := err.Error(); strings.Contains(got, "s3cret") {
			t.Fatalf("error quotes the password: %s", got)
		}
	})
}
