package control

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

// startNode runs a server on the PostgreSQL database db with a data
// directory of its own.
func startNode(t *testing.T, db string) *running {
	t.Helper()
	s, err := New(context.Background(), Config{
		DataDir: t.TempDir(), Store: db, Listen: "127.0.0.1:0", AgentListen: "127.0.0.1:0", Logger: testLogger(), ShutdownGrace: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Server: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Serve(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// TestPostgresStore runs a TCP session through a control server whose
// store is PostgreSQL, then checks that a second control server on the
// same database shares its users, tokens and sessions.
func TestPostgresStore(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewDatabase(t)
	r := startNode(t, db)
	if _, ok := r.store.(interface {
		SchemaVersion(context.Context) (int, error)
	}); !ok {
		t.Fatalf("store %T", r.store)
	}
	token := r.FirstAdminToken()
	admin := r.client(t, token)
	startAgent(t, r, agent.ResourceConfig{Name: "echo", Type: api.TypeTCP, Protocol: "tcp", Address: echoServer(t)})
	waitFor(t, "resource online", func() (bool, bool) {
		rs, err := admin.ListResources(ctx, client.ResourceQuery{Type: api.TypeTCP})
		return true, err == nil && len(rs) == 1 && rs[0].Online
	})

	s, err := admin.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	events, n := echoSession(ctx, t, admin, s.ID, 64<<10)
	events.Close()
	done := waitFor(t, "completed", func() (api.Session, bool) {
		got, err := admin.GetSession(ctx, s.ID)
		return got, err == nil && got.Status == api.StatusCompleted
	})
	if done.BytesUp != n || done.BytesDown != n || len(done.Timeline) < 3 {
		t.Fatalf("final session %+v", done)
	}
	waitFor(t, "recording stored", func() (bool, bool) {
		rc, err := admin.Recording(ctx, s.ID)
		if err != nil {
			return false, false
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return true, err == nil && strings.Contains(string(b), "open")
	})

	// A second node on the database: no second first admin, the same
	// users, tokens and sessions.
	r2 := startNode(t, db)
	if r2.FirstAdminToken() != "" {
		t.Fatal("the second node created another first admin")
	}
	admin2 := r2.client(t, token)
	if _, err := admin2.CreateUser(ctx, api.CreateUserRequest{Name: "bob", Role: api.RoleUser}); err != nil {
		t.Fatal(err)
	}
	users, err := admin.ListUsers(ctx)
	if err != nil || len(users) != 2 {
		t.Fatalf("users seen by the first node: %+v %v", users, err)
	}
	again, err := admin2.GetSession(ctx, s.ID)
	if err != nil || again.Status != api.StatusCompleted || again.BytesUp != n {
		t.Fatalf("session seen by the second node: %+v %v", again, err)
	}
	page, err := admin2.ListSessions(ctx, client.SessionQuery{})
	if err != nil || len(page.Sessions) != 1 {
		t.Fatalf("sessions listed by the second node: %+v %v", page, err)
	}
}
