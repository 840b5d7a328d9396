package postgres

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/querylog"
)

const (
	pgBin           = "/usr/lib/postgresql/15/bin"
	machinePG       = "127.0.0.1:5432" // trust authentication
	superPassword   = "pg-s3cret"      // postgres on the instances the tests start
	testUser        = "alice"
	testUserPass    = "alice pw"
	instanceStarted = "started"
)

// instance is a PostgreSQL server the tests started.
type instance struct {
	name   string
	dir    string // data directory (also the socket directory)
	addr   string
	caFile string // the CA of the server certificate (ssl=on), or ""
	err    error  // why it is not available
}

var (
	scramPG = &instance{name: "scram-sha-256"}
	md5PG   = &instance{name: "md5"}
	peerErr error // programs missing for the instances
)

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "onepam-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	startInstances(root)
	code := m.Run()
	for _, in := range []*instance{scramPG, md5PG} {
		if in.err == nil {
			asPostgres(filepath.Join(pgBin, "pg_ctl") + " -D " + in.dir + " stop -m immediate")
		}
	}
	os.RemoveAll(root)
	os.Exit(code)
}

// asPostgres runs a shell command as the postgres user (initdb refuses
// root).
func asPostgres(cmd string) ([]byte, error) {
	if u, err := user.Current(); err == nil && u.Username == "postgres" {
		return exec.Command("sh", "-c", cmd).CombinedOutput()
	}
	return exec.Command("su", "postgres", "-s", "/bin/sh", "-c", cmd).CombinedOutput()
}

func startInstances(root string) {
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		peerErr = fmt.Errorf("PostgreSQL 15 server programs: %w", err)
		scramPG.err, md5PG.err = peerErr, peerErr
		return
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		scramPG.err, md5PG.err = err, err
		return
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	os.Chmod(root, 0o755)
	var wg sync.WaitGroup
	for _, in := range []*instance{scramPG, md5PG} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.err = in.start(root, uid, gid)
		}()
	}
	wg.Wait()
}

func (in *instance) start(root string, uid, gid int) error {
	in.dir = filepath.Join(root, strings.ReplaceAll(in.name, "-", ""))
	if err := os.Mkdir(in.dir, 0o700); err != nil {
		return err
	}
	os.Chown(in.dir, uid, gid)
	method := in.name
	out, err := asPostgres(fmt.Sprintf("%s/initdb -D %s --auth-local=trust --auth-host=%s -U postgres", pgBin, in.dir, method))
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	conf := "password_encryption = '" + method + "'\n"
	if method == "scram-sha-256" {
		ca, err := writeServerCert(in.dir, uid, gid)
		if err != nil {
			return err
		}
		in.caFile = ca
		conf += "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
	}
	f, err := os.OpenFile(filepath.Join(in.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	f.WriteString(conf)
	f.Close()
	port, err := freePort()
	if err != nil {
		return err
	}
	in.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	out, err = asPostgres(fmt.Sprintf("%s/pg_ctl -D %s -o '-p %d -k %s -c listen_addresses=127.0.0.1' -l %s/log -w start", pgBin, in.dir, port, in.dir, in.dir))
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	for _, sql := range []string{
		fmt.Sprintf("ALTER USER postgres PASSWORD '%s'", superPassword),
		fmt.Sprintf("CREATE USER %s PASSWORD '%s'", testUser, testUserPass),
		fmt.Sprintf("CREATE DATABASE app OWNER %s", testUser),
	} {
		if out, err := in.psqlSocket("postgres", sql); err != nil {
			return fmt.Errorf("setup: %v\n%s", err, out)
		}
	}
	return nil
}

// psqlSocket runs SQL as postgres over the instance's Unix socket (trust).
func (in *instance) psqlSocket(db, sql string) ([]byte, error) {
	_, port, _ := net.SplitHostPort(in.addr)
	cmd := exec.Command(filepath.Join(pgBin, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", in.dir, "-p", port, "-U", "postgres", "-d", db, "-c", sql)
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// writeServerCert writes a CA and a server certificate for 127.0.0.1 and
// localhost into dir (owned by postgres) and returns the CA file.
func writeServerCert(dir string, uid, gid int) (string, error) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "onepam test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	files := map[string][]byte{
		"server.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"ca.crt":     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return "", err
		}
		os.Chown(p, uid, gid)
	}
	return filepath.Join(dir, "ca.crt"), nil
}

// requirePeer returns the path of a program the test needs: missing, it
// fails the test in CI (CI=true) and skips it elsewhere.
func requirePeer(t testing.TB, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if p2 := filepath.Join(pgBin, prog); fileExists(p2) {
			return p2
		}
		skipOrFail(t, fmt.Errorf("%s not installed: %w", prog, err))
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// skipOrFail: a missing peer fails the test when CI=true, skips it elsewhere.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	proxytest.SkipOrFail(t, err)
}

// require returns the instance's address or skips/fails the test.
func (in *instance) require(t testing.TB) string {
	t.Helper()
	if in.err != nil {
		skipOrFail(t, fmt.Errorf("PostgreSQL %s instance: %w", in.name, in.err))
	}
	return in.addr
}

func requireMachinePG(t testing.TB) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", machinePG, 2*time.Second)
	if err != nil {
		skipOrFail(t, fmt.Errorf("PostgreSQL at %s: %w", machinePG, err))
	}
	c.Close()
	return machinePG
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

// waitEntry polls the log until an entry matches.
func (s *memSink) waitEntry(t testing.TB, what string, match func(querylog.Entry) bool) querylog.Entry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, e := range s.entries(t) {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log entry %s in:\n%s", what, s.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *memSink) dump() string { return s.String() }

// target describes a server and how the agent logs in to it.
type target struct {
	addr string
	cfg  *TargetConfig
}

func openSession(ctx context.Context, tg target, open api.SessionOpen) (proxy.Session, *memSink, error) {
	sink := &memSink{}
	open.SessionID, open.Type, open.Resource = "s1", api.TypeDB, "pg"
	info := proxytest.Info(open, proxy.Target{Name: "pg", Address: tg.addr, Options: tg.cfg}, sink)
	s, err := New(Config{}).Open(ctx, info)
	return s, sink, err
}

// gateway is an open session with a loopback listener in front of it,
// standing in for control and the CLI: every connection to addr becomes
// one ServeConn (a new conn stream), the ConnOpenResult frame stripped.
type gateway struct {
	addr string
	sink *memSink
	sess proxy.Session
	mu   sync.Mutex
	errs map[int64]error // ServeConn results
}

func startGateway(t testing.TB, tg target, open api.SessionOpen) *gateway {
	t.Helper()
	s, sink, err := openSession(context.Background(), tg, open)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	g := &gateway{sink: sink, sess: s, errs: map[int64]error{}}
	f := proxytest.NewFrontWith(t, s, "s1", proxytest.Hooks{
		Refused: func(_ int64, res api.ConnOpenResult, err error) {
			t.Errorf("conn open result: %+v, %v", res, err)
		},
		Ended: func(id int64, err error) {
			g.mu.Lock()
			g.errs[id] = err
			g.mu.Unlock()
		},
	})
	g.addr = f.Addr
	return g
}

// serveErr waits for the result of ServeConn of connection id.
func (g *gateway) serveErr(t testing.TB, id int64) error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		err, ok := g.errs[id]
		g.mu.Unlock()
		if ok {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("connection %d did not end", id)
	return nil
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair() (net.Conn, net.Conn, error) { return proxytest.Pair() }

func (g *gateway) hostPort() (string, string) {
	h, p, _ := net.SplitHostPort(g.addr)
	return h, p
}

// psql runs psql against the gateway with args; stdin is the script.
func (g *gateway) psql(t testing.TB, user, db, stdin string, args ...string) (string, error) {
	t.Helper()
	psql := requirePeer(t, "psql")
	h, p := g.hostPort()
	full := append([]string{"-X", "-h", h, "-p", p, "-U", user, "-d", db}, args...)
	cmd := exec.Command(psql, full...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10", "PGPASSWORD=", "PGSSLMODE=prefer")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// findEntries returns the entries whose statement is stmt.
func findEntries(es []querylog.Entry, stmt string) []querylog.Entry {
	var out []querylog.Entry
	for _, e := range es {
		if e.Statement == stmt {
			out = append(out, e)
		}
	}
	return out
}

func openSessionCfg(tg target, cfg Config) (proxy.Session, *memSink, error) {
	sink := &memSink{}
	info := proxytest.Info(api.SessionOpen{SessionID: "s1", Type: api.TypeDB, Resource: "pg"},
		proxy.Target{Name: "pg", Address: tg.addr, Options: tg.cfg}, sink)
	s, err := New(cfg).Open(context.Background(), info)
	return s, sink, err
}

func readFrame(t testing.TB, c net.Conn, v any) {
	t.Helper()
	if err := tunnel.ReadFrame(c, v); err != nil {
		t.Fatal(err)
	}
}
