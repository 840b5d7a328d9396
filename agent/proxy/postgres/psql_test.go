package postgres

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// servers are the three ways the agent logs in: trust (the machine's
// server), scram-sha-256 and md5 (instances of TestMain).
func servers(t *testing.T) []struct {
	name string
	tg   func(t *testing.T) target
	user string
	db   string
} {
	return []struct {
		name string
		tg   func(t *testing.T) target
		user string
		db   string
	}{
		{"trust", func(t *testing.T) target {
			return target{requireMachinePG(t), &TargetConfig{User: "postgres"}}
		}, "postgres", "postgres"},
		{"scram-sha-256", func(t *testing.T) target {
			return target{scramPG.require(t), &TargetConfig{User: "postgres", Password: superPassword, Users: map[string]UserConfig{testUser: {Password: testUserPass}}}}
		}, testUser, "app"},
		{"md5", func(t *testing.T) target {
			return target{md5PG.require(t), &TargetConfig{User: "postgres", Password: superPassword, Users: map[string]UserConfig{testUser: {Password: testUserPass}}}}
		}, testUser, "app"},
	}
}

func TestPsqlCommand(t *testing.T) {
	for _, sv := range servers(t) {
		t.Run(sv.name, func(t *testing.T) {
			g := startGateway(t, sv.tg(t), api.SessionOpen{})
			out, err := g.psql(t, sv.user, sv.db, "", "-At", "-c", "select 1")
			if err != nil || strings.TrimSpace(out) != "1" {
				t.Fatalf("psql -c 'select 1': %v\n%s", err, out)
			}
			multi := "select 1 as a; select 'x;y' union all select $$;$$ /* ; */; create temp table t(a int); insert into t values (1),(2),(3); -- done;\n update t set a = a + 1 where a > 1"
			out, err = g.psql(t, sv.user, sv.db, "", "-At", "-c", multi)
			if err != nil {
				t.Fatalf("multi-statement query: %v\n%s", err, out)
			}
			if !strings.Contains(out, "UPDATE 2") {
				t.Fatalf("psql printed %q", out)
			}
			want := []struct {
				stmt string
				tag  string
				rows int64
			}{
				{"select 1", "SELECT 1", 1},
				{"select 1 as a", "SELECT 1", 1},
				{"select 'x;y' union all select $$;$$ /* ; */", "SELECT 2", 2},
				{"create temp table t(a int)", "CREATE TABLE", -1},
				{"insert into t values (1),(2),(3)", "INSERT 0 3", 3},
				{"-- done;\n update t set a = a + 1 where a > 1", "UPDATE 2", 2},
			}
			for _, w := range want {
				e := g.sink.waitEntry(t, w.stmt, func(e querylog.Entry) bool { return e.Statement == w.stmt })
				if e.Kind != querylog.KindQuery || e.Tag != w.tag || e.Rows != w.rows || e.User != sv.user || e.Database != sv.db || e.Error != "" {
					t.Errorf("entry for %q: %+v", w.stmt, e)
				}
			}
			g.sink.waitEntry(t, "quit of the second psql", func(e querylog.Entry) bool { return e.Kind == querylog.KindQuit && e.Conn == 2 })
		})
	}
}

// TestPsqlScript feeds psql a script on stdin, the way a person types:
// several statements, a syntax error (logged with SQLSTATE 42601), COPY
// from stdin and to stdout.
func TestPsqlScript(t *testing.T) {
	g := startGateway(t, target{scramPG.require(t), &TargetConfig{User: testUser, Password: testUserPass, Database: "app"}}, api.SessionOpen{})
	script := `create table items(id int primary key, name text);
insert into items values (1, 'one'), (2, 'two');
selec 1;
copy items from stdin;
3	three
4	four
5	five
\.
copy items to stdout;
select count(*) from items;
drop table items;
`
	out, err := g.psql(t, testUser, "app", script, "-At")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if !strings.Contains(out, `syntax error at or near "selec"`) || !strings.Contains(out, "5\tfive") || !strings.Contains(out, "\n5\n") {
		t.Fatalf("psql printed:\n%s", out)
	}
	es := g.sink.entries(t)
	check := func(stmt string, ok func(querylog.Entry) bool) {
		t.Helper()
		got := findEntries(es, stmt)
		if len(got) != 1 || !ok(got[0]) {
			t.Errorf("entry for %q: %+v\nlog:\n%s", stmt, got, g.sink.dump())
		}
	}
	check("insert into items values (1, 'one'), (2, 'two')", func(e querylog.Entry) bool { return e.Rows == 2 && e.Tag == "INSERT 0 2" })
	check("selec 1", func(e querylog.Entry) bool {
		return e.ErrorCode == "42601" && strings.Contains(e.Error, "syntax error") && e.Rows == -1
	})
	check("copy items from stdin", func(e querylog.Entry) bool {
		return e.Kind == querylog.KindCopyIn && e.Rows == 3 && e.Tag == "COPY 3" && e.Bytes >= int64(len("3\tthree\n4\tfour\n5\tfive\n"))
	})
	check("copy items to stdout", func(e querylog.Entry) bool {
		return e.Kind == querylog.KindCopyOut && e.Rows == 5 && e.Bytes == int64(len("1\tone\n2\ttwo\n3\tthree\n4\tfour\n5\tfive\n"))
	})
	check("select count(*) from items", func(e querylog.Entry) bool { return e.Rows == 1 && e.Tag == "SELECT 1" })
	check("drop table items", func(e querylog.Entry) bool { return e.Tag == "DROP TABLE" })
	sum, err := querylog.Summarize(strings.NewReader(g.sink.dump()))
	if err != nil || sum.Errors != 1 || sum.Statements != 7 {
		t.Errorf("summary %+v, %v", sum, err)
	}
}

// TestCancel interrupts psql running pg_sleep(30): psql sends a
// CancelRequest on a new connection, which the proxy maps to the real
// backend key and carries to the server.
func TestCancel(t *testing.T) {
	addr := scramPG.require(t)
	g := startGateway(t, target{addr, &TargetConfig{User: "postgres", Password: superPassword}}, api.SessionOpen{})
	h, p := g.hostPort()
	cmd := exec.Command(requirePeer(t, "psql"), "-X", "-h", h, "-p", p, "-U", "postgres", "-d", "postgres", "-c", "select pg_sleep(30)")
	cmd.Env = append(os.Environ(), "PGPASSWORD=")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Wait until the server runs the sleep, then press Ctrl-C.
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, _ := scramPG.psqlSocket("postgres", "select count(*) from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'")
		if strings.TrimSpace(string(o)) == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg_sleep never ran: %s", o)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(25 * time.Second):
		t.Fatal("psql still runs after Ctrl-C")
	}
	if !strings.Contains(out.String(), "canceling statement due to user request") {
		t.Fatalf("psql printed %q", out.String())
	}
	e := g.sink.waitEntry(t, "cancel", func(e querylog.Entry) bool { return e.Kind == querylog.KindCancel })
	if e.Statement != "select pg_sleep(30)" || e.Conn != 1 || e.Error != "" {
		t.Errorf("cancel entry %+v", e)
	}
	e = g.sink.waitEntry(t, "cancelled query", func(e querylog.Entry) bool { return e.Kind == querylog.KindQuery && e.ErrorCode == "57014" })
	if e.Statement != "select pg_sleep(30)" {
		t.Errorf("query entry %+v", e)
	}
	if err := g.serveErr(t, 2); err != nil {
		t.Errorf("cancel connection: %v", err)
	}
}

func TestCancelUnknownKey(t *testing.T) {
	g := startGateway(t, target{requireMachinePG(t), &TargetConfig{User: "postgres"}}, api.SessionOpen{})
	c, err := dialRaw(g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 1, 2, 3, 4})
	if err := g.serveErr(t, 1); err == nil || !strings.Contains(err.Error(), "key") {
		t.Fatalf("ServeConn = %v, want a key error", err)
	}
	g.sink.waitEntry(t, "error", func(e querylog.Entry) bool { return e.Kind == querylog.KindError })
}

func TestWrongAgentPassword(t *testing.T) {
	for _, in := range []*instance{scramPG, md5PG} {
		t.Run(in.name, func(t *testing.T) {
			addr := in.require(t)
			_, _, err := openSession(context.Background(), target{addr, &TargetConfig{User: testUser, Password: "wrong"}}, api.SessionOpen{})
			if err == nil || !strings.Contains(err.Error(), `password authentication failed for user "alice"`) {
				t.Fatalf("Open = %v, want the server's password error", err)
			}
		})
	}
	t.Run("unknown login", func(t *testing.T) {
		_, _, err := openSession(context.Background(), target{requireMachinePG(t), &TargetConfig{User: "postgres"}}, api.SessionOpen{Login: "mallory"})
		if err == nil || !strings.Contains(err.Error(), `database user "mallory" is not configured`) {
			t.Fatalf("Open = %v", err)
		}
	})
}

// TestTLS logs in to the scram instance over TLS (sslmode require and
// verify-full) and checks the server sees an encrypted connection.
func TestTLS(t *testing.T) {
	addr := scramPG.require(t)
	tests := []struct {
		name    string
		cfg     TargetConfig
		openErr string
	}{
		{"require", TargetConfig{SSLMode: SSLRequire}, ""},
		{"verify-full", TargetConfig{SSLMode: SSLVerifyFull, CAFile: scramPG.caFile}, ""},
		{"verify-full wrong name", TargetConfig{SSLMode: SSLVerifyFull, CAFile: scramPG.caFile, ServerName: "db.example"}, "certificate"},
		{"verify-full system roots", TargetConfig{SSLMode: SSLVerifyFull}, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.User, cfg.Password = "postgres", superPassword
			if tt.openErr != "" {
				_, _, err := openSession(context.Background(), target{addr, &cfg}, api.SessionOpen{})
				if err == nil || !strings.Contains(err.Error(), tt.openErr) {
					t.Fatalf("Open = %v, want %q", err, tt.openErr)
				}
				return
			}
			g := startGateway(t, target{addr, &cfg}, api.SessionOpen{})
			out, err := g.psql(t, "postgres", "postgres", "", "-At", "-c", "select ssl from pg_stat_ssl where pid = pg_backend_pid()")
			if err != nil || strings.TrimSpace(out) != "t" {
				t.Fatalf("psql: %v %q", err, out)
			}
		})
	}
}

// TestSessionLogin checks that SessionOpen's login and database win over
// what the client asks for.
func TestSessionLogin(t *testing.T) {
	addr := scramPG.require(t)
	g := startGateway(t, target{addr, &TargetConfig{User: "postgres", Password: superPassword, Users: map[string]UserConfig{testUser: {Password: testUserPass}}}}, api.SessionOpen{Login: testUser, Database: "app"})
	out, err := g.psql(t, "postgres", "postgres", "", "-At", "-c", "select current_user, current_database()")
	if err != nil || strings.TrimSpace(out) != "alice|app" {
		t.Fatalf("psql: %v %q", err, out)
	}
}

// TestServerLoginErrorToClient: a user whose agent-side password is wrong
// gets the server's own error on connect; the log records it.
func TestServerLoginErrorToClient(t *testing.T) {
	addr := md5PG.require(t)
	g := startGateway(t, target{addr, &TargetConfig{User: "postgres", Password: superPassword, Users: map[string]UserConfig{testUser: {Password: "stale"}}}}, api.SessionOpen{})
	out, err := g.psql(t, testUser, "app", "", "-c", "select 1")
	if err == nil || !strings.Contains(out, `password authentication failed for user "alice"`) {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	e := g.sink.waitEntry(t, "login error", func(e querylog.Entry) bool { return e.Kind == querylog.KindError })
	if e.ErrorCode != "28P01" || e.User != testUser {
		t.Errorf("entry %+v", e)
	}
	// A user the agent has no credentials for is the default user (as
	// with MySQL); without a default user it is an error naming it.
	out, err = g.psql(t, "mallory", "app", "", "-At", "-c", "select current_user")
	if err != nil || strings.TrimSpace(out) != "postgres" {
		t.Fatalf("psql as an unknown user with a default user: %v\n%s", err, out)
	}
	g = startGateway(t, target{addr, &TargetConfig{Users: map[string]UserConfig{testUser: {Password: testUserPass}}, Database: "app"}}, api.SessionOpen{})
	out, err = g.psql(t, "mallory", "app", "", "-c", "select 1")
	if err == nil || !strings.Contains(out, `database user "mallory" is not configured`) {
		t.Fatalf("psql as an unknown user: %v\n%s", err, out)
	}
}
