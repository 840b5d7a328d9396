package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// dbWorld is a world whose agent also serves database resources:
//
//	pgdb     the machine's PostgreSQL (trust)
//	pgscram  a PostgreSQL started here (scram-sha-256) as postgres, or app
//	pgbad    the same server with a wrong agent-side password
//	maria    the machine's MariaDB as root
//	mariapw  the machine's MariaDB as a password-protected user made here
type dbWorld struct {
	*world
	scram *pgInstance
	maria *mariaUser
}

const appPassword = "app-pw-1"

func newDBWorld(t *testing.T) *dbWorld {
	t.Helper()
	for _, p := range []string{"psql", "mariadb"} {
		requirePeer(t, p)
	}
	requireListening(t, "PostgreSQL", machinePG)
	requireListening(t, "MariaDB", machineMaria)
	scram := startPG(t, "scram-sha-256",
		"CREATE USER app PASSWORD '"+appPassword+"'",
		"CREATE DATABASE orders OWNER app",
		"CREATE DATABASE other OWNER app")
	mu := createMariaUser(t)
	w := newWorld(t, fmt.Sprintf(`  - name: pgdb
    url: postgres://postgres@%s/postgres
  - name: pgscram
    type: postgres
    address: %s
    user: postgres
    password: %q
    users:
      app: {password: %q}
    database: postgres
  - name: pgbad
    url: postgres://postgres:wrong-password@%s/postgres
  - name: maria
    url: mysql://root@%s/
  - name: mariapw
    url: mysql://%s:%s@%s/%s
`, machinePG, scram.Addr, scram.Password, appPassword, scram.Addr, machineMaria, mu.Name, mu.Password, machineMaria, mu.Database))
	return &dbWorld{world: w, scram: scram, maria: mu}
}

// TestDBSessions runs issue 5's acceptance through the real binaries:
// native clients and Go drivers through `onepam db connect`, the query log
// through `sessions replay`, login errors, policy and kill.
func TestDBSessions(t *testing.T) {
	w := newDBWorld(t)

	t.Run("psql -c, exit status passes through", func(t *testing.T) {
		r := w.admin.Run("db", "connect", "pgdb", "--", "psql", "-X", "-At", "-c", "select 40 + 2")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "42" {
			t.Fatalf("exit %d stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
		}
		r = w.admin.Run("db", "connect", "pgdb", "--", "psql", "-X", "-At", "-c", "select nope")
		if r.Code != 1 || !strings.Contains(r.Stderr, `column "nope" does not exist`) {
			t.Fatalf("failing statement: exit %d, want psql's 1\n%s", r.Code, r.Stderr)
		}
		es := queryLog(t, w.admin, sessionFromOutput(t, r.Stderr))
		e, ok := findEntry(es, func(e querylog.Entry) bool { return e.Statement == "select nope" })
		if !ok || e.ErrorCode != "42703" || e.User != "postgres" || e.Database != "postgres" {
			t.Fatalf("query log lacks the failed statement: %+v", es)
		}
	})

	t.Run("psql script: several statements, COPY in and out, an error", func(t *testing.T) {
		script := filepath.Join(t.TempDir(), "script.sql")
		body := "create temp table e2e_items(id int, name text);\n" +
			"copy e2e_items from stdin;\n1\tone\n2\ttwo\n3\tthree\n\\.\n" +
			"select count(*) from e2e_items; select name from e2e_items where id = 2;\n" +
			"copy e2e_items to stdout;\n" +
			"select 1/0;\n"
		if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		r := w.admin.Run("db", "connect", "pgdb", "--", "psql", "-X", "-At", "-f", script)
		if r.Code != 0 || !strings.Contains(r.Stdout, "3\ntwo\n1\tone\n2\ttwo\n3\tthree\n") || !strings.Contains(r.Stderr, "division by zero") {
			t.Fatalf("exit %d\nstdout %q\nstderr %s", r.Code, r.Stdout, r.Stderr)
		}
		id := sessionFromOutput(t, r.Stderr)
		es := queryLog(t, w.admin, id)
		checks := []struct {
			what string
			keep func(querylog.Entry) bool
		}{
			{"copy_in of 3 rows", func(e querylog.Entry) bool { return e.Kind == querylog.KindCopyIn && e.Rows == 3 && e.Bytes > 0 }},
			{"copy_out of 3 rows", func(e querylog.Entry) bool { return e.Kind == querylog.KindCopyOut && e.Rows == 3 }},
			{"count query", func(e querylog.Entry) bool {
				return e.Kind == querylog.KindQuery && strings.Contains(e.Statement, "count(*)") && e.Rows == 1
			}},
			{"second statement of the line", func(e querylog.Entry) bool { return strings.Contains(e.Statement, "where id = 2") && e.Rows == 1 }},
			{"division by zero", func(e querylog.Entry) bool {
				return e.ErrorCode == "22012" && strings.Contains(e.Error, "division by zero")
			}},
		}
		for _, c := range checks {
			if _, ok := findEntry(es, c.keep); !ok {
				t.Errorf("query log lacks %s: %+v", c.what, es)
			}
		}
		show := w.admin.MustRun("sessions", "show", id)
		if !regexpMatch(`Statements\s+Statements\s+[5-9]\s+Errors\s+1\s+Rows\s+\d+`, show) {
			t.Fatalf("sessions show lacks the counts:\n%s", show)
		}
		table := w.admin.MustRun("sessions", "replay", id, "--grep", "^copy")
		if !strings.Contains(table, "copy_in") || !strings.Contains(table, "copy_out") || strings.Contains(table, "count(*)") {
			t.Fatalf("replay --grep ^copy:\n%s", table)
		}
	})

	t.Run("mariadb -e, two statements", func(t *testing.T) {
		r := w.admin.Run("db", "connect", "maria", "--", "mariadb", "-N", "-B", "-e", "select 1; select 2")
		if r.Code != 0 || r.Stdout != "1\n2\n" {
			t.Fatalf("exit %d stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
		}
		es := queryLog(t, w.admin, sessionFromOutput(t, r.Stderr))
		for _, s := range []string{"select 1", "select 2"} {
			if _, ok := findEntry(es, func(e querylog.Entry) bool { return e.Statement == s && e.Rows == 1 && e.User == "root" }); !ok {
				t.Errorf("query log lacks %q: %+v", s, es)
			}
		}
		r = w.admin.Run("db", "connect", "maria", "--", "mariadb", "-e", "select nope")
		if r.Code != 1 || !strings.Contains(r.Stderr, "Unknown column 'nope'") {
			t.Fatalf("failing statement: exit %d\n%s", r.Code, r.Stderr)
		}
	})

	t.Run("mariadb as a password-protected user the agent logs in as", func(t *testing.T) {
		r := w.admin.Run("db", "connect", "mariapw", "--", "mariadb", "-N", "-B", "-e", "select current_user(), database()")
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, w.maria.Name+"@") || !strings.Contains(r.Stdout, w.maria.Database) {
			t.Fatalf("exit %d stdout %q\n%s", r.Code, r.Stdout, r.Stderr)
		}
	})

	t.Run("pgx prepared statements with typed parameters", func(t *testing.T) {
		tun := connectType(t, w.admin, "db", "pgscram")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, "postgres://nobody@"+tun.Addr+"/postgres?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "create temp table t(i int, b bigint, s text, ok bool, f float8, at timestamptz, raw bytea, n numeric)"); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)
		if _, err := conn.Exec(ctx, "insert into t values ($1, $2, $3, $4, $5, $6, $7, $8)",
			int32(7), int64(1)<<40, "hello, world", true, 2.5, at, []byte{0xde, 0xad}, "12.34"); err != nil {
			t.Fatal(err)
		}
		var s string
		var n int64
		if err := conn.QueryRow(ctx, "select s, b from t where i = $1 and ok = $2", int32(7), true).Scan(&s, &n); err != nil || s != "hello, world" || n != 1<<40 {
			t.Fatalf("select through the gateway: %q %d %v", s, n, err)
		}
		if _, err := conn.Exec(ctx, "select $1::int", "not a number"); err == nil {
			t.Fatal("a bad parameter did not fail")
		}
		conn.Close(ctx)
		stopConnect(t, tun)
		es := queryLog(t, w.admin, tun.ID)
		ins, ok := findEntry(es, func(e querylog.Entry) bool {
			return e.Kind == querylog.KindExecute && strings.HasPrefix(e.Statement, "insert")
		})
		if !ok || len(ins.Params) != 8 || ins.Rows != 1 {
			t.Fatalf("no execute entry for the insert with 8 parameters: %+v", es)
		}
		want := []string{"7", "1099511627776", "hello, world", "true", "2.5", "2025-06-01", `\xdead`, "12.34"}
		for i, p := range ins.Params {
			if b, _ := json.Marshal(p); !strings.Contains(string(b), want[i]) && !strings.Contains(fmt.Sprint(p), want[i]) {
				t.Errorf("parameter %d is %v, want it to show %s", i+1, p, want[i])
			}
		}
		if _, ok := findEntry(es, func(e querylog.Entry) bool {
			return strings.HasPrefix(e.Statement, "select s, b") && e.Rows == 1 && len(e.Params) == 2
		}); !ok {
			t.Errorf("no execute entry for the select: %+v", es)
		}
		if _, ok := findEntry(es, func(e querylog.Entry) bool { return e.ErrorCode == "22P02" }); !ok {
			t.Errorf("no entry for the bad parameter: %+v", es)
		}
	})

	t.Run("go-sql-driver/mysql prepared statements with typed parameters", func(t *testing.T) {
		tun := connectType(t, w.admin, "db", "mariapw")
		cfg := mysql.NewConfig()
		cfg.Net, cfg.Addr, cfg.User, cfg.DBName, cfg.ParseTime = "tcp", tun.Addr, "local-user", w.maria.Database, true
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "create table t (i int, s varchar(100), f double, at datetime, raw blob, nothing int)"); err != nil {
			t.Fatal(err)
		}
		st, err := db.PrepareContext(ctx, "insert into t values (?, ?, ?, ?, ?, ?)")
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)
		for i := 1; i <= 3; i++ {
			if _, err := st.ExecContext(ctx, i, fmt.Sprintf("row %d", i), float64(i)/4, at, []byte{0xca, 0xfe}, nil); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		var count int
		var sum float64
		if err := db.QueryRowContext(ctx, "select count(*), sum(f) from t where i >= ?", 2).Scan(&count, &sum); err != nil || count != 2 || sum != 1.25 {
			t.Fatalf("select: %d %v %v", count, sum, err)
		}
		db.Close()
		tun.Signal(syscall.SIGINT)
		if _, err := tun.Wait(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		es := queryLog(t, w.admin, tun.ID)
		var inserts []querylog.Entry
		for _, e := range es {
			if e.Kind == querylog.KindExecute && strings.HasPrefix(e.Statement, "insert") {
				inserts = append(inserts, e)
			}
		}
		if len(inserts) != 3 {
			t.Fatalf("%d execute entries for the inserts, want 3: %+v", len(inserts), es)
		}
		p := inserts[2].Params
		if len(p) != 6 || fmt.Sprint(p[0]) != "3" || p[1] != "row 3" || fmt.Sprint(p[2]) != "0.75" || !strings.Contains(fmt.Sprint(p[3]), "2025-06-01") || p[5] != nil {
			t.Fatalf("parameters of the third insert: %#v", p)
		}
		if inserts[2].User != w.maria.Name || inserts[2].Rows != 1 {
			t.Fatalf("third insert: %+v", inserts[2])
		}
	})

	t.Run("Ctrl-C in psql cancels the running statement through the gateway", func(t *testing.T) {
		marker := "e2e_cancel_" + randHex(4)
		p := w.admin.Start("psql-cancel", "db", "connect", "pgdb", "--", "psql", "-X", "-c", "select pg_sleep(30) /* "+marker+" */")
		e2etest.WaitFor(t, 20*time.Second, "pg_sleep running on the server", func() bool {
			return machinePSQL(t, "select count(*) from pg_stat_activity where state = 'active' and query like '%"+marker+"%' and pid <> pg_backend_pid()") == "1"
		})
		p.Signal(syscall.SIGINT) // the terminal sends Ctrl-C to the foreground process group
		code, err := p.Wait(60 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code != 1 || !strings.Contains(p.Output(), "canceling statement due to user request") {
			t.Fatalf("psql after Ctrl-C: exit %d\n%s", code, p.Output())
		}
		es := queryLog(t, w.admin, sessionFromOutput(t, p.Output()))
		if _, ok := findEntry(es, func(e querylog.Entry) bool { return e.Kind == querylog.KindCancel }); !ok {
			t.Errorf("no cancel entry: %+v", es)
		}
		if _, ok := findEntry(es, func(e querylog.Entry) bool { return strings.Contains(e.Statement, marker) && e.ErrorCode == "57014" }); !ok {
			t.Errorf("the cancelled statement lacks its error: %+v", es)
		}
	})

	t.Run("a wrong agent-side password fails with the server's message", func(t *testing.T) {
		r := w.admin.Run("db", "connect", "pgbad", "--", "psql", "-c", "select 1")
		if r.Code != 6 || !strings.Contains(r.Stderr, `password authentication failed for user "postgres"`) {
			t.Fatalf("exit %d, want 6 with the server's message\n%s", r.Code, r.Stderr)
		}
		failed := sessions(t, w.admin, "--status", "failed", "--resource", "pgbad")
		if len(failed) == 0 || !strings.Contains(failed[0].Error, "password authentication failed") {
			t.Fatalf("no failed session with the error: %+v", failed)
		}
	})

	t.Run("policy restricts database users and names", func(t *testing.T) {
		bob := w.ctl.AddUser(t, w.admin, "bob", "user")
		w.admin.MustRun("policy", "add", "--subject", "user:bob", "--resource", "pgscram", "--login", "app", "--database", "orders")
		r := bob.Run("db", "connect", "pgscram", "--db-user", "app", "--db-name", "orders", "--", "psql", "-X", "-At", "-c", "select current_user || '@' || current_database()")
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != "app@orders" {
			t.Fatalf("allowed connect: exit %d %q\n%s", r.Code, r.Stdout, r.Stderr)
		}
		for _, args := range [][]string{
			{"--db-user", "postgres", "--db-name", "orders"},
			{"--db-user", "app", "--db-name", "other"},
			{"--db-user", "app"},
			{},
		} {
			r := bob.Run(append(append([]string{"db", "connect", "pgscram"}, args...), "--", "psql", "-c", "select 1")...)
			if r.Code != 4 || !strings.Contains(r.Stderr, "policy") {
				t.Errorf("connect %v: exit %d, want 4 (denied)\n%s", args, r.Code, r.Stderr)
			}
		}
	})

	t.Run("kill closes the client and the server connection", func(t *testing.T) {
		tun := connectType(t, w.admin, "db", "pgdb")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, "postgres://postgres@"+tun.Addr+"/postgres?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var pid int
		if err := conn.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		backend := fmt.Sprintf("select count(*) from pg_stat_activity where pid = %d", pid)
		if machinePSQL(t, backend) != "1" {
			t.Fatalf("backend %d not in pg_stat_activity", pid)
		}
		w.admin.MustRun("sessions", "kill", tun.ID, "--reason", "e2e kill")
		if code, err := tun.Wait(20 * time.Second); err != nil || code != 7 {
			t.Fatalf("db connect after kill: exit %d %v\n%s", code, err, tun.Output())
		}
		e2etest.WaitFor(t, 20*time.Second, "the server backend to end", func() bool { return machinePSQL(t, backend) == "0" })
		if err := conn.Ping(ctx); err == nil {
			t.Fatal("the client connection still works after kill")
		}
	})

	t.Run("malformed client bytes end only that connection", func(t *testing.T) {
		tun := connectType(t, w.admin, "db", "pgdb")
		defer tun.Signal(syscall.SIGINT)
		bad, err := net.Dial("tcp", tun.Addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = bad.Write(bytes.Repeat([]byte{0xff}, 64))
		_ = bad.SetReadDeadline(time.Now().Add(20 * time.Second))
		var buf [512]byte
		for {
			if _, err := bad.Read(buf[:]); err != nil {
				break
			}
		}
		bad.Close()
		_, port, _ := net.SplitHostPort(tun.Addr)
		out, err := exec.Command("psql", "-X", "-At", "-h", "127.0.0.1", "-p", port, "-c", "select 'still up'").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "still up" {
			t.Fatalf("after a malformed connection: %v %s", err, out)
		}
		if s := session(t, w.admin, tun.ID); s.Status != api.StatusActive {
			t.Fatalf("session is %s", s.Status)
		}
	})
}
