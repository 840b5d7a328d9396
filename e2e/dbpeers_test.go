package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// Peers of the database tests: the machine's PostgreSQL (127.0.0.1:5432,
// trust) and MariaDB (127.0.0.1:3306, root without a password), plus a
// PostgreSQL instance and a MariaDB user each test starts or creates.
const (
	machinePG    = "127.0.0.1:5432"
	machineMaria = "127.0.0.1:3306"
)

// pgInstance is a PostgreSQL server started by a test in a temporary
// directory: password authentication over TCP, trust on its Unix socket.
type pgInstance struct {
	Addr     string
	Password string // of the postgres superuser
	dir      string
	bin      string
}

// pgServerBin finds the directory of PostgreSQL's server programs.
func pgServerBin(t *testing.T) string {
	t.Helper()
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) > 0 {
		return filepath.Dir(m[len(m)-1])
	}
	requirePeer(t, "initdb")
	p, _ := exec.LookPath("initdb")
	return filepath.Dir(p)
}

// asPostgres runs a shell command as the postgres user (initdb and the
// server refuse to run as root).
func asPostgres(cmd string) ([]byte, error) {
	if u, err := user.Current(); err == nil && u.Username == "postgres" {
		return exec.Command("sh", "-c", cmd).CombinedOutput()
	}
	return exec.Command("su", "postgres", "-s", "/bin/sh", "-c", cmd).CombinedOutput()
}

// startPG starts a PostgreSQL instance whose TCP logins use method
// (scram-sha-256 or md5) and runs setup (SQL statements, one per psql
// call) as postgres; it is stopped when the test ends.
func startPG(t *testing.T, method string, setup ...string) *pgInstance {
	t.Helper()
	bin := pgServerBin(t)
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("the postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	root, err := os.MkdirTemp("", "onepam-e2e-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	in := &pgInstance{dir: filepath.Join(root, "data"), bin: bin, Password: "pg-" + randHex(6)}
	if err := os.Mkdir(in.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(in.dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if out, err := asPostgres(fmt.Sprintf("%s/initdb -D %s --auth-local=trust --auth-host=%s -U postgres", bin, in.dir, method)); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(in.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "password_encryption = '%s'\nfsync = off\n", method)
	f.Close()
	port := e2etest.FreePort(t)
	in.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if out, err := asPostgres(fmt.Sprintf("%s/pg_ctl -D %s -o '-p %d -k %s -c listen_addresses=127.0.0.1' -l %s/log -w start", bin, in.dir, port, in.dir, in.dir)); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_, _ = asPostgres(fmt.Sprintf("%s/pg_ctl -D %s stop -m immediate", bin, in.dir))
	})
	for _, sql := range append([]string{fmt.Sprintf("ALTER USER postgres PASSWORD '%s'", in.Password)}, setup...) {
		if out, err := in.SQL("postgres", sql); err != nil {
			t.Fatalf("%s: %v\n%s", sql, err, out)
		}
	}
	return in
}

// SQL runs sql as postgres over the instance's Unix socket.
func (in *pgInstance) SQL(db, sql string) (string, error) {
	_, port, _ := net.SplitHostPort(in.Addr)
	out, err := exec.Command(filepath.Join(in.bin, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
		"-h", in.dir, "-p", port, "-U", "postgres", "-d", db, "-c", sql).CombinedOutput()
	return string(out), err
}

// machinePSQL runs sql on the machine's PostgreSQL directly (not through
// onepam).
func machinePSQL(t *testing.T, sql string) string {
	t.Helper()
	out, err := exec.Command("psql", "-X", "-At", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres", "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// mariaUser is a password-protected MariaDB user with its own database,
// created on the machine's server for one test and dropped after it.
type mariaUser struct {
	Name, Password, Database string
}

// createMariaUser creates the user and database as root.
func createMariaUser(t *testing.T) *mariaUser {
	t.Helper()
	m := &mariaUser{Name: "onepam_e2e_" + randHex(4), Password: "maria-" + randHex(6)}
	m.Database = m.Name
	var sql strings.Builder
	fmt.Fprintf(&sql, "CREATE DATABASE `%s`;", m.Database)
	for _, host := range []string{"%", "localhost", "127.0.0.1"} {
		fmt.Fprintf(&sql, "CREATE USER '%s'@'%s' IDENTIFIED BY '%s'; GRANT ALL ON `%s`.* TO '%s'@'%s';", m.Name, host, m.Password, m.Database, m.Name, host)
	}
	machineMariaSQL(t, sql.String())
	t.Cleanup(func() {
		var drop strings.Builder
		fmt.Fprintf(&drop, "DROP DATABASE IF EXISTS `%s`;", m.Database)
		for _, host := range []string{"%", "localhost", "127.0.0.1"} {
			fmt.Fprintf(&drop, "DROP USER IF EXISTS '%s'@'%s';", m.Name, host)
		}
		_, _ = exec.Command("mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root", "-e", drop.String()).CombinedOutput()
	})
	return m
}

// machineMariaSQL runs sql as root on the machine's MariaDB directly.
func machineMariaSQL(t *testing.T, sql string) string {
	t.Helper()
	out, err := exec.Command("mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root", "-N", "-B", "-e", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb -e %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requireListening fails (CI) or skips unless addr accepts connections.
func requireListening(t *testing.T, what, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not running on %s (CI=true: a missing peer is a failure): %v", what, addr, err)
	}
	t.Skipf("%s is not running on %s: %v", what, addr, err)
}

// connectType starts `onepam TYPE connect RESOURCE --listen ... [extra]`
// and waits until it listens.
func connectType(t testing.TB, u *e2etest.User, typ, resource string, extra ...string) *tunnel {
	t.Helper()
	port := e2etest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{typ, "connect", resource, "--listen", addr}, extra...)
	p := u.Start(typ+"-connect-"+resource, args...)
	// The address goes to stdout and the session line to stderr: wait for
	// both, they may arrive in either order.
	e2etest.WaitFor(t, 20*time.Second, typ+" connect to listen on "+addr+" and name its session", func() bool {
		out := p.Output()
		return (strings.Contains(out, addr) && sessionIDRE.MatchString(out)) || p.Exited()
	})
	if p.Exited() {
		t.Fatalf("%s connect exited:\n%s", typ, p.Output())
	}
	id := sessionIDRE.FindString(p.Output())
	if id == "" {
		t.Fatalf("%s connect did not print its session id:\n%s", typ, p.Output())
	}
	return &tunnel{Proc: p, Addr: addr, ID: id}
}

// sessionFromOutput finds the session id a connect printed.
func sessionFromOutput(t testing.TB, out string) string {
	t.Helper()
	id := sessionIDRE.FindString(out)
	if id == "" {
		t.Fatalf("no session id in:\n%s", out)
	}
	return id
}

// queryLog returns a database session's query log once its recording is
// complete, through `sessions replay -o json`.
func queryLog(t testing.TB, u *e2etest.User, id string) []querylog.Entry {
	t.Helper()
	e2etest.WaitFor(t, 20*time.Second, "recording of "+id+" complete", func() bool {
		return session(t, u, id).Recording.State == api.RecordingComplete
	})
	out := u.MustRun("sessions", "replay", id, "-o", "json")
	var es []querylog.Entry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatalf("sessions replay -o json: %v\n%s", err, out)
	}
	return es
}

// findEntry returns the first entry for which keep is true.
func findEntry(es []querylog.Entry, keep func(querylog.Entry) bool) (querylog.Entry, bool) {
	for _, e := range es {
		if keep(e) {
			return e, true
		}
	}
	return querylog.Entry{}, false
}

// regexpMatch reports whether the regular expression expr matches s.
func regexpMatch(expr, s string) bool { return regexp.MustCompile(expr).MatchString(s) }
