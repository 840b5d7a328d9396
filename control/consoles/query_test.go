package consoles_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control/consoles"
	"github.com/onepam/onepam/pkg/api"
)

// machineDB reports whether a database server listens on addr.
func machineDB(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// TestDatabaseConsole runs statements through the gateway against the
// machine's PostgreSQL (127.0.0.1:5432, trust, user postgres) and MariaDB
// (127.0.0.1:3306, root without a password): rows, NULLs, errors, several
// statements, the row cap, the end of the console, and every statement in
// the session's query log.
func TestDatabaseConsole(t *testing.T) {
	requirePeer(t, machineDB("127.0.0.1:5432"), "no PostgreSQL on 127.0.0.1:5432 (./scripts/test starts one)")
	requirePeer(t, machineDB("127.0.0.1:3306"), "no MariaDB on 127.0.0.1:3306 (./scripts/test starts one)")
	var rs []agent.ResourceConfig
	for _, u := range [][2]string{{"pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}, {"maria", "mysql://root@127.0.0.1:3306/mysql"}} {
		r, err := agent.ParseResourceURL(u[0], u[1])
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	e := startEnv(t, rs...)

	for _, db := range []struct {
		resource, protocol string
		manyRows           string
		errSQL, errWant    string
		nullSQL            string
		multi              string
	}{
		{"pg", "postgres", "select g from generate_series(1, 1500) g", "select * from no_such_table_here", `relation "no_such_table_here" does not exist`,
			"select null::text as n, 'x' as v", "select 1 as a; select 2 as b"},
		{"maria", "mysql", "select seq from seq_1_to_1500", "select * from no_such_table_here", "doesn't exist",
			"select null as n, 'x' as v", "select 1 as a; select 2 as b"},
	} {
		t.Run(db.resource, func(t *testing.T) {
			sess := e.session(t, api.CreateSessionRequest{Resource: db.resource})
			path := "/v1/sessions/" + sess.ID + "/query"
			q := func(sql string) consoles.QueryResult {
				t.Helper()
				var res consoles.QueryResult
				if st := e.do(t, http.MethodPost, path, "application/json", strings.NewReader(`{"sql":`+jsonString(sql)+`}`), &res); st != http.StatusOK {
					t.Fatalf("query %q: status %d", sql, st)
				}
				if res.Protocol != db.protocol {
					t.Fatalf("protocol %q, want %q", res.Protocol, db.protocol)
				}
				return res
			}
			tests := []struct {
				name, sql string
				check     func(r consoles.QueryResult) bool
			}{
				{"answer", "select 42 as answer", func(r consoles.QueryResult) bool {
					return r.Error == "" && eq(r.Columns, "answer") && len(r.Rows) == 1 && *r.Rows[0][0] == "42" && r.RowCount == 1 && strings.Contains(r.CommandTag, "1")
				}},
				{"null", db.nullSQL, func(r consoles.QueryResult) bool {
					return eq(r.Columns, "n", "v") && r.Rows[0][0] == nil && *r.Rows[0][1] == "x"
				}},
				{"capped", db.manyRows, func(r consoles.QueryResult) bool {
					return len(r.Rows) == 1000 && r.RowCount == 1500 && r.Truncated && *r.Rows[999][0] == "1000"
				}},
				{"error", db.errSQL, func(r consoles.QueryResult) bool {
					return strings.Contains(r.Error, db.errWant) && r.ErrorCode != ""
				}},
				{"several statements", db.multi, func(r consoles.QueryResult) bool {
					return eq(r.Columns, "b") && *r.Rows[0][0] == "2" && strings.Count(r.CommandTag, ";") == 1
				}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					if r := q(tc.sql); !tc.check(r) {
						t.Fatalf("%q → %+v", tc.sql, r)
					}
				})
			}
			var eb api.ErrorBody
			if st := e.do(t, http.MethodPost, path, "application/json", strings.NewReader(`{"sql": 5}`), &eb); st != http.StatusBadRequest {
				t.Fatalf("hostile body: status %d", st)
			}
			if st := e.do(t, http.MethodDelete, path, "", nil, nil); st != http.StatusNoContent {
				t.Fatalf("DELETE: status %d", st)
			}
			e.waitEnded(t, sess.ID, api.StatusCompleted)
			log := e.get(t, "/v1/sessions/"+sess.ID+"/recording?format=native")
			for _, want := range []string{"select 42 as answer", db.errSQL, "select 2 as b"} {
				if !contains(log, want) {
					t.Errorf("the query log lacks %q:\n%s", want, log)
				}
			}
			if st := e.do(t, http.MethodPost, path, "application/json", strings.NewReader(`{"sql":"select 1"}`), &eb); st != http.StatusConflict {
				t.Fatalf("query after the end: status %d %+v", st, eb.Error)
			}
		})
	}
}

// TestDatabaseConsoleRefusals: a session of another type, and a session
// terminated while its console is open.
func TestDatabaseConsoleRefusals(t *testing.T) {
	requirePeer(t, machineDB("127.0.0.1:5432"), "no PostgreSQL on 127.0.0.1:5432")
	pg, err := agent.ParseResourceURL("pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, pg, sshResource(t))
	var eb api.ErrorBody
	ssh := e.session(t, api.CreateSessionRequest{Resource: "shell", Login: currentUser(t)})
	if st := e.do(t, http.MethodPost, "/v1/sessions/"+ssh.ID+"/query", "application/json", strings.NewReader(`{"sql":"select 1"}`), &eb); st != http.StatusBadRequest {
		t.Fatalf("query on an ssh session: %d %+v", st, eb.Error)
	}
	sess := e.session(t, api.CreateSessionRequest{Resource: "pg"})
	path := "/v1/sessions/" + sess.ID + "/query"
	if st := e.do(t, http.MethodPost, path, "application/json", strings.NewReader(`{"sql":"select 1"}`), nil); st != http.StatusOK {
		t.Fatalf("first query: %d", st)
	}
	if _, err := e.c.KillSession(t.Context(), sess.ID, "console test"); err != nil {
		t.Fatal(err)
	}
	e.waitEnded(t, sess.ID, api.StatusTerminated)
	waitFor(t, 10*time.Second, "queries refused after the kill", func() bool {
		st := e.do(t, http.MethodPost, path, "application/json", strings.NewReader(`{"sql":"select 1"}`), &eb)
		return st == http.StatusConflict || st == http.StatusGone
	})
}

func eq(got []string, want ...string) bool { return strings.Join(got, ",") == strings.Join(want, ",") }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
