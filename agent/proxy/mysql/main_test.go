package mysql

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	private.stop()
	os.Exit(code)
}

// privateServer is a mariadbd the tests start once (on first use) on a
// free port, with TLS from a test CA, the ed25519 plugin and a 64 MiB
// max_allowed_packet; TestMain stops it by its PID.
type privateServer struct {
	once   sync.Once
	err    error
	dir    string
	addr   string
	caFile string
	cmd    *exec.Cmd
}

var private privateServer

func (p *privateServer) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// usePrivateServer starts the private server if needed and returns it.
func usePrivateServer(t testing.TB) *privateServer {
	t.Helper()
	requirePeer(t, "mariadbd")
	requirePeer(t, "mariadb-install-db")
	private.once.Do(func() { private.err = private.start() })
	if private.err != nil {
		t.Fatalf("private mariadbd: %v", private.err)
	}
	return &private
}

func (p *privateServer) start() error {
	dir, err := os.MkdirTemp("", "onepam-mysql-test-")
	if err != nil {
		return err
	}
	p.dir = dir
	if err := writeTestPKI(dir); err != nil {
		return err
	}
	p.caFile = filepath.Join(dir, "ca.pem")
	install := exec.Command("mariadb-install-db", "--no-defaults", "--user=root", "--datadir="+filepath.Join(dir, "data"), "--auth-root-authentication-method=normal")
	if out, err := install.CombinedOutput(); err != nil {
		return fmt.Errorf("mariadb-install-db: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p.addr = fmt.Sprintf("127.0.0.1:%d", port)
	log, err := os.Create(filepath.Join(dir, "mariadbd.log"))
	if err != nil {
		return err
	}
	p.cmd = exec.Command("mariadbd", "--no-defaults", "--user=root", "--datadir="+filepath.Join(dir, "data"),
		"--socket="+filepath.Join(dir, "sock"), fmt.Sprintf("--port=%d", port), "--bind-address=127.0.0.1",
		"--max-allowed-packet=64M", "--plugin-load-add=auth_ed25519", "--innodb-buffer-pool-size=64M",
		"--ssl-ca="+p.caFile, "--ssl-cert="+filepath.Join(dir, "server.pem"), "--ssl-key="+filepath.Join(dir, "server.key"))
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			// mariadb-install-db creates anonymous ''@'localhost' users,
			// which would shadow the tests' 'user'@'%'.
			out, err := exec.Command("mariadb", "--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", strconv.Itoa(port), "-u", "root",
				"-e", "DROP USER IF EXISTS ''@'localhost'; DROP USER IF EXISTS ''@'"+mustHostname()+"'").CombinedOutput()
			if err != nil {
				return fmt.Errorf("drop anonymous users: %v\n%s", err, out)
			}
			return nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "mariadbd.log"))
			return fmt.Errorf("mariadbd did not start: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeTestPKI writes ca.pem, server.pem and server.key (for 127.0.0.1
// and localhost) into dir.
func writeTestPKI(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "onepam test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return err
	}
	files := map[string]*pem.Block{
		"ca.pem":     {Type: "CERTIFICATE", Bytes: caDER},
		"server.pem": {Type: "CERTIFICATE", Bytes: srvDER},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func mustHostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}
