package mysql

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"strconv"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/onepam/onepam/recordfmt/querylog"
)

func TestEd25519Login(t *testing.T) {
	srv := usePrivateServer(t)
	f := newFixture(t, srv.addr, "ed25519")
	var plugin string
	if err := f.root.QueryRow("select plugin from mysql.user where user = ?", f.user).Scan(&plugin); err != nil || plugin != "ed25519" {
		t.Fatalf("fixture user plugin %q (%v), want ed25519", plugin, err)
	}
	h := startProxy(t, f.addr, f.target(), "")
	var who string
	if err := proxyDB(t, h.addr, f.db, false).QueryRow("select current_user()").Scan(&who); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(who, f.user+"@") {
		t.Fatalf("logged in as %q, want %s", who, f.user)
	}
	// A wrong password is refused by the server's ed25519 check.
	cfg := f.target()
	cfg.Password = "wrong"
	if _, _, err := openSession(t.Context(), f.addr, cfg, ""); err == nil || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("Open with a wrong ed25519 password: %v", err)
	}
}

func TestTLSToServer(t *testing.T) {
	srv := usePrivateServer(t)
	f := newFixture(t, srv.addr, "mysql_native_password")
	if _, err := f.root.Exec("ALTER USER '" + f.user + "'@'%' REQUIRE SSL"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		cfg     TargetConfig
		wantErr string
	}{
		{"require", TargetConfig{TLS: TLSRequire}, ""},
		{"verify-full with the CA", TargetConfig{TLS: TLSVerifyFull, CAFile: srv.caFile}, ""},
		{"verify-full with a wrong name", TargetConfig{TLS: TLSVerifyFull, CAFile: srv.caFile, ServerName: "db.example"}, "certificate"},
		{"verify-full with system roots", TargetConfig{TLS: TLSVerifyFull}, "certificate"},
		{"disable, user requires SSL", TargetConfig{TLS: TLSDisable}, "Access denied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.User, cfg.Password, cfg.Database = f.user, f.password, f.db
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			s, _, err := openSession(t.Context(), srv.addr, &cfg, "")
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Open: %v, want an error with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			s.Close()
			h := startProxy(t, srv.addr, &cfg, "")
			db := proxyDB(t, h.addr, f.db, false)
			var name, cipher string
			if err := db.QueryRow("show session status like 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
				t.Fatal(err)
			}
			if cipher == "" {
				t.Fatalf("the agent's connection to the server is not TLS")
			}
		})
	}
}

func TestLargePackets(t *testing.T) {
	srv := usePrivateServer(t)
	f := newFixture(t, srv.addr, "mysql_native_password")
	h := startProxy(t, f.addr, f.target(), "")
	blob := bytes.Repeat([]byte("0123456789abcdef"), 20<<20/16) // 20 MiB
	blob[12345] = 0xff                                          // not text
	sum := sha256.Sum256(blob)
	for _, mode := range []struct {
		name        string
		interpolate bool
		insert      string
	}{
		{"prepared, long data", false, "insert into big values (?, ?, ?)"},
		{"interpolated, 20 MiB COM_QUERY", true, "insert into big values (?, ?, ?)"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			db := proxyDB(t, h.addr, f.db, mode.interpolate)
			db.Exec("create table if not exists big (id int primary key, b longblob, note text)")
			id := 1
			if mode.interpolate {
				id = 2
			}
			if _, err := db.Exec(mode.insert, id, blob, "x"); err != nil {
				t.Fatalf("insert 20 MiB: %v", err)
			}
			var got []byte
			if err := db.QueryRow("select b from big where id = ?", id).Scan(&got); err != nil {
				t.Fatalf("select 20 MiB: %v", err)
			}
			if sha256.Sum256(got) != sum {
				t.Fatalf("blob read back differs (%d bytes)", len(got))
			}
			var n int64
			if err := db.QueryRow("select length(b) from big where id = " + strconv.Itoa(id)).Scan(&n); err != nil || n != int64(len(blob)) {
				t.Fatalf("length on the server: %d, %v", n, err)
			}
		})
	}
	es := h.entries()
	ex := find(es, querylog.KindExecute, "insert into big values (?, ?, ?)")
	if len(ex) != 1 || len(ex[0].Params) != 3 || ex[0].Rows != 1 {
		t.Fatalf("prepared insert entry: %+v", ex)
	}
	if p, _ := ex[0].Params[1].(string); p != "…[long data 20971520 bytes]" {
		t.Errorf("long data parameter logged as %q", p)
	}
	var big *querylog.Entry
	for i, e := range es {
		if e.Kind == querylog.KindQuery && strings.HasPrefix(e.Statement, "insert into big values (2, _binary'") {
			big = &es[i]
		}
	}
	if big == nil || big.Rows != 1 || len(big.Statement) > querylog.MaxStatementLen || !strings.Contains(big.Statement, "…[truncated ") {
		t.Errorf("20 MiB statement entry: %v", big != nil)
	}
}

// TestWrongPassword checks that a wrong agent-side password fails Open
// with the server's message.
func TestWrongPassword(t *testing.T) {
	requireServer(t, machineMariaDB)
	f := newFixture(t, machineMariaDB, "mysql_native_password")
	cfg := f.target()
	cfg.Password = "wrong"
	_, _, err := openSession(t.Context(), f.addr, cfg, "")
	if err == nil || !strings.Contains(err.Error(), "Access denied for user '"+f.user+"'") {
		t.Fatalf("Open with a wrong password: %v", err)
	}
	// A login (SessionOpen.Login) without credentials fails too.
	if _, _, err := openSession(t.Context(), f.addr, f.target(), "nobody"); err == nil || !strings.Contains(err.Error(), `"nobody" has no credentials`) {
		t.Fatalf("Open as an unconfigured login: %v", err)
	}
	// A client connection as another configured user with a wrong
	// password gets the server's error, and it is logged.
	cfg = f.target()
	cfg.Users = map[string]UserConfig{"other": {Password: "x"}}
	h := startProxy(t, f.addr, cfg, "")
	db := proxyDBUser(t, h.addr, "other")
	err = db.Ping()
	if err == nil || !strings.Contains(err.Error(), "Access denied for user 'other'") {
		t.Fatalf("client login as other: %v", err)
	}
	h.waitFor("the login error", func(es []querylog.Entry) bool {
		for _, e := range es {
			if e.Kind == querylog.KindError && e.ErrorCode == "1045" {
				return true
			}
		}
		return false
	})
}

// proxyDBUser opens database/sql through the proxy as user (no password).
func proxyDBUser(t *testing.T, addr, user string) *sql.DB {
	t.Helper()
	c := gomysql.NewConfig()
	c.User, c.Net, c.Addr = user, "tcp", addr
	db := sql.OpenDB(mustConnector(t, c))
	t.Cleanup(func() { db.Close() })
	return db
}
