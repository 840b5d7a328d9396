package mysql

import (
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/onepam/onepam/recordfmt/querylog"
)

// mariadbCLI runs the stock mariadb client against addr; the user and
// password it sends are dropped by the proxy, which logs in itself.
func mariadbCLI(t *testing.T, addr string, stdin string, args ...string) (string, error) {
	t.Helper()
	prog := requirePeer(t, "mariadb")
	host, port, _ := net.SplitHostPort(addr)
	full := append([]string{"--no-defaults", "--protocol=tcp", "-h", host, "-P", port, "-u", "whoever", "-pnot-the-password", "--batch"}, args...)
	cmd := exec.Command(prog, full...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestMariaDBClient(t *testing.T) {
	requireServer(t, machineMariaDB)
	f := newFixture(t, machineMariaDB, "mysql_native_password")
	h := startProxy(t, f.addr, f.target(), "")

	t.Run("-e one statement", func(t *testing.T) {
		out, err := mariadbCLI(t, h.addr, "", "-e", "select 1 as one")
		if err != nil || !strings.Contains(out, "one\n1") {
			t.Fatalf("mariadb -e: %v\n%s", err, out)
		}
		es := h.waitFor("select 1 as one", func(es []querylog.Entry) bool { return len(find(es, querylog.KindQuery, "select 1 as one")) == 1 })
		e := find(es, querylog.KindQuery, "select 1 as one")[0]
		if e.Rows != 1 || e.User != f.user || e.Database != f.db || e.Error != "" {
			t.Errorf("entry %+v", e)
		}
	})
	t.Run("-e multiple statements", func(t *testing.T) {
		out, err := mariadbCLI(t, h.addr, "", "-e", "select 1 as a; select 2 as b union select 3")
		if err != nil || !strings.Contains(out, "a\n1") || !strings.Contains(out, "b\n2\n3") {
			t.Fatalf("mariadb -e: %v\n%s", err, out)
		}
		es := h.waitFor("both statements", func(es []querylog.Entry) bool {
			return len(find(es, querylog.KindQuery, "select 2 as b union select 3")) == 1
		})
		if e := find(es, querylog.KindQuery, "select 2 as b union select 3")[0]; e.Rows != 2 {
			t.Errorf("second statement: rows %d, want 2", e.Rows)
		}
	})
	t.Run("interactive script", func(t *testing.T) {
		script := "use " + f.db + ";\n" + `create table t1 (id int primary key, name varchar(20));
insert into t1 values (1, 'one'), (2, 'two'), (3, 'three');
update t1 set name = 'TWO' where id = 2;
select * from t1 order by id;
select * from no_such_table;
`
		out, err := mariadbCLI(t, h.addr, script, "--force", f.db)
		if !strings.Contains(out, "2\tTWO") || !strings.Contains(out, "1146") {
			t.Fatalf("mariadb script: %v\n%s", err, out)
		}
		es := h.waitFor("the script's error", func(es []querylog.Entry) bool {
			return len(find(es, querylog.KindQuery, "select * from no_such_table")) == 1
		})
		checks := []struct {
			stmt string
			rows int64
			code string
		}{
			{"insert into t1 values (1, 'one'), (2, 'two'), (3, 'three')", 3, ""},
			{"update t1 set name = 'TWO' where id = 2", 1, ""},
			{"select * from t1 order by id", 3, ""},
			{"select * from no_such_table", -1, "1146"},
		}
		for _, c := range checks {
			got := find(es, querylog.KindQuery, c.stmt)
			if len(got) != 1 || got[0].Rows != c.rows || got[0].ErrorCode != c.code {
				t.Errorf("%q: %+v, want rows %d code %q", c.stmt, got, c.rows, c.code)
			}
		}
		if ini := find(es, querylog.KindInitDB, f.db); len(ini) != 1 || ini[0].Database != f.db || ini[0].Error != "" {
			t.Errorf("COM_INIT_DB entry: %+v", ini)
		}
		e := find(es, querylog.KindQuery, "select * from no_such_table")[0]
		if !strings.Contains(e.Error, "doesn't exist") {
			t.Errorf("error message %q", e.Error)
		}
	})
}
