package agentgw_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/agentgw"
	"github.com/onepam/onepam/control/agentgw/agentgwtest"
	"github.com/onepam/onepam/control/pki"
	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

// env is a gateway serving on loopback with a real SQLite store.
type env struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	store *sqlite.Store
	ca    *pki.CA
	recs  *recordings.Dir
	gw    *agentgw.Gateway
	addr  string
	stop  func() error // ends Serve and returns its error (idempotent)
	// logger writes to t.Log; valid until the env's cleanup.
	logger *slog.Logger

	mu        sync.Mutex
	changes   []change
	recEvents map[string]api.Recording
}

type change struct {
	agentID string
	online  bool
}

func newEnv(t *testing.T, mod func(*agentgw.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{t: t, ctx: ctx, dir: t.TempDir(), recEvents: map[string]api.Recording{}}
	ca, cert, err := pki.LoadOrCreate(e.dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.ca = ca
	st, err := sqlite.Open(ctx, filepath.Join(e.dir, "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	if e.recs, err = recordings.NewDir(filepath.Join(e.dir, "recordings")); err != nil {
		t.Fatal(err)
	}
	e.logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := agentgw.Config{
		Store:      st,
		CA:         ca,
		ServerCert: cert,
		Recordings: e.recs,
		Logger:     e.logger,
		Version:    "test",
		OnAgentChange: func(id string, online bool) {
			e.mu.Lock()
			e.changes = append(e.changes, change{id, online})
			e.mu.Unlock()
		},
		OnRecording: func(id string, r api.Recording) {
			e.mu.Lock()
			e.recEvents[id] = r
			e.mu.Unlock()
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	if e.gw, err = agentgw.New(cfg); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- e.gw.Serve(ctx, ln) }()
	var once sync.Once
	var serveErr error
	e.stop = func() error {
		once.Do(func() {
			cancel()
			serveErr = <-done
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := e.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
		st.Close()
	})
	return e
}

// testWriter sends gateway logs to t.Log (shown with -v or on failure).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// token creates an enrollment token valid for ttl (negative: expired) and
// returns its secret.
func (e *env) token(ttl time.Duration) string {
	e.t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(secret))
	if err := e.store.CreateEnrollToken(e.ctx, h[:], "admin", time.Now().Add(ttl)); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func (e *env) enroll(name string) *agentgwtest.Identity {
	e.t.Helper()
	id, err := agentgwtest.Enroll(e.ctx, e.addr, e.ca.Pin(), e.token(time.Hour), name)
	if err != nil {
		e.t.Fatalf("enroll %s: %v", name, err)
	}
	return id
}

func (e *env) connect(id *agentgwtest.Identity, resources ...api.Resource) *agentgwtest.Agent {
	e.t.Helper()
	a, err := agentgwtest.Connect(e.ctx, e.addr, id, api.AgentHello{Version: "test", Hostname: "test-host", Resources: resources})
	if err != nil {
		e.t.Fatalf("connect %s: %v", id.Name, err)
	}
	e.t.Cleanup(func() { a.Close() })
	return a
}

// session creates a pending session served by agent (its name).
func (e *env) session(agent string) string {
	e.t.Helper()
	id := store.NewID()
	err := e.store.CreateSession(e.ctx, api.Session{
		ID: id, User: "alice", Type: api.TypeTCP, Status: api.StatusPending,
		Resource: "echo", Agent: agent, CreatedAt: time.Now(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) recordingFile(sessionID string) []byte {
	e.t.Helper()
	p, err := e.recs.Path(sessionID, api.FormatConnlog)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
