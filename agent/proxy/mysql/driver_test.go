package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/onepam/onepam/recordfmt/querylog"
)

// proxyDB opens database/sql with go-sql-driver/mysql through the proxy;
// the user and password are the client's own, which the proxy drops.
func proxyDB(t *testing.T, addr, database string, interpolate bool) *sql.DB {
	t.Helper()
	c := gomysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = "anyone", "whatever", "tcp", addr, database
	c.InterpolateParams = interpolate
	c.ParseTime = true
	c.MultiStatements = true
	db := sql.OpenDB(mustConnector(t, c))
	t.Cleanup(func() { db.Close() })
	return db
}

// jsonParams is how params read back from the query log.
func jsonParams(vs ...any) []any {
	b, _ := json.Marshal(vs)
	var out []any
	d := json.NewDecoder(bytesReader(b))
	d.UseNumber()
	d.Decode(&out)
	return out
}

func TestGoDriver(t *testing.T) {
	requireServer(t, machineMariaDB)
	f := newFixture(t, machineMariaDB, "mysql_native_password")
	h := startProxy(t, f.addr, f.target(), "")
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)

	for _, interpolate := range []bool{false, true} {
		t.Run(fmt.Sprintf("interpolateParams=%v", interpolate), func(t *testing.T) {
			db := proxyDB(t, h.addr, f.db, interpolate)
			table := fmt.Sprintf("types_%v", interpolate)
			if _, err := db.Exec("create table " + table + " (i int, u bigint unsigned, d double, s varchar(40), b varbinary(40), ts datetime(6), n int)"); err != nil {
				t.Fatal(err)
			}
			ins := "insert into " + table + " values (?, ?, ?, ?, ?, ?, ?)"
			args := []any{int64(-5), uint64(1<<63 + 5), 3.25, "héllo 'quoted'", []byte{0, 1, 2, 0xff}, ts, nil}
			res, err := db.Exec(ins, args...)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("rows affected %d", n)
			}
			var (
				i  int64
				u  uint64
				d  float64
				s  string
				b  []byte
				tt time.Time
				n  sql.NullInt64
			)
			sel := "select i, u, d, s, b, ts, n from " + table + " where i = ? and s = ?"
			if err := db.QueryRow(sel, -5, "héllo 'quoted'").Scan(&i, &u, &d, &s, &b, &tt, &n); err != nil {
				t.Fatal(err)
			}
			if i != -5 || u != 1<<63+5 || d != 3.25 || s != "héllo 'quoted'" || !reflect.DeepEqual(b, []byte{0, 1, 2, 0xff}) || !tt.Equal(ts) || n.Valid {
				t.Fatalf("read back %v %v %v %q %x %v %v", i, u, d, s, b, tt, n)
			}
			if _, err := db.Exec("insert into no_such_table values (?)", 1); err == nil {
				t.Fatal("insert into a missing table worked")
			}
			es := h.waitFor("the failed insert", func(es []querylog.Entry) bool {
				for _, e := range es {
					if e.ErrorCode == "1146" && e.Conn > 0 && (e.Kind == querylog.KindPrepare || e.Kind == querylog.KindQuery) && containsStr(e.Statement, "no_such_table") {
						return true
					}
				}
				return false
			})
			if !interpolate {
				ex := find(es, querylog.KindExecute, ins)
				if len(ex) != 1 {
					t.Fatalf("execute entries of %q: %v\n%s", ins, ex, dump(es))
				}
				want := jsonParams(int64(-5), uint64(1<<63+5), 3.25, "héllo 'quoted'", `\x000102ff`, "2024-02-29 13:14:15.123456", nil)
				if !reflect.DeepEqual(ex[0].Params, want) || ex[0].Rows != 1 || ex[0].Name == "" {
					t.Errorf("execute entry: params %#v rows %d name %q, want %#v", ex[0].Params, ex[0].Rows, ex[0].Name, want)
				}
				if len(find(es, querylog.KindPrepare, ins)) != 1 {
					t.Errorf("no prepare entry for %q", ins)
				}
				sx := find(es, querylog.KindExecute, sel)
				if len(sx) != 1 || sx[0].Rows != 1 || !reflect.DeepEqual(sx[0].Params, jsonParams(-5, "héllo 'quoted'")) {
					t.Errorf("select execute: %+v", sx)
				}
				if len(find(es, querylog.KindClose, ins)) != 1 {
					t.Errorf("no close entry for %q", ins)
				}
			} else {
				lit := "insert into " + table + " values (-5, 9223372036854775813, 3.25, 'héllo \\'quoted\\'', _binary'\\0\x01\x02\xff', '2024-02-29 13:14:15.123456', NULL)"
				lit = strings.ToValidUTF8(lit, "\uFFFD") // JSON holds text: the 0xff byte reads back as U+FFFD
				if q := find(es, querylog.KindQuery, lit); len(q) != 1 || q[0].Rows != 1 {
					t.Errorf("interpolated insert %q not logged:\n%s", lit, dump(es))
				}
			}
		})
	}

	t.Run("stored procedure with several results", func(t *testing.T) {
		db := proxyDB(t, h.addr, f.db, false)
		if _, err := db.Exec("create table p_t (x int)"); err != nil {
			t.Fatal(err)
		}
		body := "create procedure p(in k int) begin select 1 as a; select k as b union select k + 1; insert into p_t values (k), (k); end"
		if _, err := db.Exec(body); err != nil {
			t.Fatal(err)
		}
		for _, q := range []struct {
			call string
			args []any
		}{{"call p(7)", nil}, {"call p(?)", []any{7}}} {
			rows, err := db.Query(q.call, q.args...)
			if err != nil {
				t.Fatalf("%s: %v", q.call, err)
			}
			sets := 0
			for {
				for rows.Next() {
				}
				sets++
				if !rows.NextResultSet() {
					break
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			if sets != 2 {
				t.Errorf("%s: %d result sets, want 2", q.call, sets)
			}
		}
		es := h.waitFor("both calls", func(es []querylog.Entry) bool {
			return len(find(es, querylog.KindQuery, "call p(7)")) == 3 && len(find(es, querylog.KindExecute, "call p(?)")) == 3
		})
		for _, set := range [][]querylog.Entry{find(es, querylog.KindQuery, "call p(7)"), find(es, querylog.KindExecute, "call p(?)")} {
			if set[0].Rows != 1 || set[1].Rows != 2 || set[2].Rows != 2 {
				t.Errorf("call results: rows %d, %d, %d; want 1, 2, 2", set[0].Rows, set[1].Rows, set[2].Rows)
			}
		}
		if len(find(es, querylog.KindQuery, body)) != 1 {
			t.Errorf("compound statement not logged whole")
		}
	})

	t.Run("multi statement query", func(t *testing.T) {
		db := proxyDB(t, h.addr, f.db, false)
		if _, err := db.Exec("create table m (x int); insert into m values (1),(2); update m set x = 3 where x = 1 /* ; */; delete from m"); err != nil {
			t.Fatal(err)
		}
		es := h.waitFor("the delete", func(es []querylog.Entry) bool { return len(find(es, querylog.KindQuery, "delete from m")) == 1 })
		for stmt, rows := range map[string]int64{"create table m (x int)": 0, "insert into m values (1),(2)": 2, "update m set x = 3 where x = 1 /* ; */": 1, "delete from m": 2} {
			if got := find(es, querylog.KindQuery, stmt); len(got) != 1 || got[0].Rows != rows {
				t.Errorf("%q: %+v, want rows %d", stmt, got, rows)
			}
		}
	})
}

// TestServerKilledConnection: when the server ends the proxy's connection
// between two commands (KILL from another session), the next command
// through the proxy fails and ends the connection instead of waiting for
// an answer that never comes.
func TestServerKilledConnection(t *testing.T) {
	requireServer(t, machineMariaDB)
	h := startProxy(t, machineMariaDB, &TargetConfig{User: "root", TLS: TLSDisable}, "")
	db := proxyDB(t, h.addr, "", false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var id int64
	if err := conn.QueryRowContext(ctx, "select connection_id()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := rootDB(t, machineMariaDB).Exec(fmt.Sprintf("kill %d", id)); err != nil {
		t.Fatal(err)
	}
	var one int
	err = conn.QueryRowContext(ctx, "select 1").Scan(&one)
	if err == nil {
		t.Fatal("a query on the killed connection answered")
	}
	if ctx.Err() != nil {
		t.Fatalf("the query on the killed connection waited until the deadline: %v", err)
	}
	h.waitFor("an error entry", func(es []querylog.Entry) bool {
		for _, e := range es {
			if e.Kind == querylog.KindError || e.Statement == "select 1" && e.Error != "" {
				return true
			}
		}
		return false
	})
}
