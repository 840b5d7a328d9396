package mysql

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// machineMariaDB is the machine's MariaDB (root, no password).
const machineMariaDB = "127.0.0.1:3306"

// requirePeer returns the path of a program the test needs: missing, it
// fails the test in CI (CI=true) and skips it elsewhere.
func requirePeer(t testing.TB, prog string) string {
	t.Helper()
	return proxytest.RequirePeer(t, prog)
}

// requireServer checks that a database server answers at addr.
func requireServer(t testing.TB, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MariaDB at %s is required in CI: %v", addr, err)
		}
		t.Skipf("no MariaDB at %s (a failure when CI=true): %v", addr, err)
	}
	c.Close()
}

// memSink is a recording sink in memory that decodes its query log.
type memSink struct{ proxytest.Sink }

func (s *memSink) entries(t testing.TB) []querylog.Entry {
	t.Helper()
	raw := s.Bytes()
	d := querylog.NewDecoder(bytes.NewReader(raw))
	var out []querylog.Entry
	for {
		e, err := d.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("query log: %v\n%s", err, raw)
		}
		out = append(out, e)
	}
}

// harness is an open proxy session with a loopback listener in front of
// it, standing in for control and the CLI: every connection to addr is
// handed to ServeConn like an agent stream, the ConnOpenResult frame
// stripped.
type harness struct {
	t     testing.TB
	addr  string
	sink  *memSink
	sess  proxy.Session
	fails atomic.Int64
}

func openSession(ctx context.Context, target string, cfg *TargetConfig, login string) (proxy.Session, *memSink, error) {
	sink := &memSink{}
	info := proxytest.Info(api.SessionOpen{SessionID: "s1", Type: api.TypeDB, Resource: "db", Login: login, User: "alice"},
		proxy.Target{Name: "db", Address: target, Options: cfg}, sink)
	s, err := New(Config{}).Open(ctx, info)
	return s, sink, err
}

func startProxy(t testing.TB, target string, cfg *TargetConfig, login string) *harness {
	t.Helper()
	s, sink, err := openSession(context.Background(), target, cfg, login)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, addr: ln.Addr().String(), sink: sink, sess: s}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var id int64
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			id++
			wg.Add(1)
			go func(c net.Conn, id int64) {
				defer wg.Done()
				defer c.Close()
				sc := &frameStripper{Conn: c}
				if err := s.ServeConn(context.Background(), sc, api.ConnOpen{SessionID: "s1", ConnID: id, ClientAddr: c.RemoteAddr().String()}); err != nil {
					h.fails.Add(1)
				}
			}(c, id)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.Close()
		wg.Wait()
	})
	return h
}

// frameStripper swallows the ConnOpenResult frame ServeConn writes first
// (control and the CLI consume it in real use).
type frameStripper struct {
	net.Conn
	seen bool
}

func (f *frameStripper) Write(p []byte) (int, error) {
	if f.seen {
		return f.Conn.Write(p)
	}
	f.seen = true
	if len(p) < 4 || int(binary.BigEndian.Uint32(p)) != len(p)-4 {
		return 0, errors.New("frameStripper: first write is not one whole frame")
	}
	var res api.ConnOpenResult
	if err := json.Unmarshal(p[4:], &res); err != nil || !res.OK {
		f.Conn.Close()
	}
	return len(p), nil
}

func (h *harness) entries() []querylog.Entry { return h.sink.entries(h.t) }

// waitFor polls the query log until cond holds.
func (h *harness) waitFor(what string, cond func([]querylog.Entry) bool) []querylog.Entry {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		es := h.entries()
		if cond(es) {
			return es
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("query log never showed %s; it holds:\n%s", what, dump(es))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func dump(es []querylog.Entry) string {
	var b bytes.Buffer
	for _, e := range es {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// find returns the entries of kind whose statement is stmt.
func find(es []querylog.Entry, kind querylog.Kind, stmt string) []querylog.Entry {
	var out []querylog.Entry
	for _, e := range es {
		if e.Kind == kind && e.Statement == stmt {
			out = append(out, e)
		}
	}
	return out
}

// dbFixture is a database and a password-protected user created for a
// test on a server reached as root, dropped at cleanup.
type dbFixture struct {
	addr, user, password, db string
	root                     *sql.DB
}

func randName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func rootDB(t testing.TB, addr string) *sql.DB {
	t.Helper()
	c := gomysql.NewConfig()
	c.User, c.Net, c.Addr = "root", "tcp", addr
	c.MultiStatements = true
	db := sql.OpenDB(mustConnector(t, c))
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("root login to %s: %v", addr, err)
	}
	return db
}

func mustConnector(t testing.TB, c *gomysql.Config) driver.Connector {
	t.Helper()
	conn, err := gomysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// newFixture creates a database and a user identified by plugin
// ("mysql_native_password" or "ed25519") with a random password.
func newFixture(t testing.TB, addr, plugin string) *dbFixture {
	t.Helper()
	root := rootDB(t, addr)
	f := &dbFixture{addr: addr, user: randName("onepam_u"), password: "pw-" + randName(""), db: randName("onepam_d"), root: root}
	ident := "IDENTIFIED BY '" + f.password + "'"
	if plugin == "ed25519" {
		ident = "IDENTIFIED VIA ed25519 USING PASSWORD('" + f.password + "')"
	}
	for _, q := range []string{
		"CREATE DATABASE " + f.db,
		"CREATE USER '" + f.user + "'@'%' " + ident,
		"GRANT ALL ON " + f.db + ".* TO '" + f.user + "'@'%'",
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		root.Exec("DROP USER IF EXISTS '" + f.user + "'@'%'")
		root.Exec("DROP DATABASE IF EXISTS " + f.db)
	})
	return f
}

func (f *dbFixture) target() *TargetConfig {
	return &TargetConfig{User: f.user, Password: f.password, Database: f.db, TLS: TLSDisable}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func containsStr(s, sub string) bool { return bytes.Contains([]byte(s), []byte(sub)) }
