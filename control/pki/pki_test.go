package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/tunnel"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLoadOrCreateCreates(t *testing.T) {
	dir := t.TempDir()
	ca, cert, err := LoadOrCreate(dir, []string{"pam.example.com", "10.1.2.3"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{caCertFile, caKeyFile, serverCertFile, serverKeyFile} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	if !ca.Cert.IsCA || ca.Cert.NotAfter.Sub(t0) < CALifetime-time.Minute {
		t.Errorf("CA: IsCA=%v NotAfter=%v", ca.Cert.IsCA, ca.Cert.NotAfter)
	}
	if _, ok := ca.Cert.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("CA key %T, want ECDSA", ca.Cert.PublicKey)
	}
	if ca.Pin() != tunnel.CAPin(ca.Cert) {
		t.Errorf("Pin %q", ca.Pin())
	}
	leaf := cert.Leaf
	host, _ := os.Hostname()
	for _, name := range []string{"localhost", "pam.example.com", host} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("server certificate: %v", err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3"} {
		if !slices.ContainsFunc(leaf.IPAddresses, net.ParseIP(ip).Equal) {
			t.Errorf("server certificate lacks IP %s: %v", ip, leaf.IPAddresses)
		}
	}
	if d := leaf.NotAfter.Sub(t0); d < ServerLifetime-time.Minute || d > ServerLifetime {
		t.Errorf("server lifetime %v", d)
	}
	if len(cert.Certificate) != 2 {
		t.Errorf("chain length %d, want leaf + CA", len(cert.Certificate))
	}
	b, _ := pem.Decode(ca.CertPEM())
	if b == nil || string(b.Bytes) != string(ca.Cert.Raw) {
		t.Error("CertPEM does not hold the CA certificate")
	}
}

func TestLoadOrCreateReloadAndRenew(t *testing.T) {
	tests := []struct {
		name    string
		hosts   []string
		now     time.Time
		renewed bool
	}{
		{"same hosts", []string{"pam.example.com"}, t0.Add(24 * time.Hour), false},
		{"subset of hosts", nil, t0, false},
		{"host differing in case", []string{"PAM.example.com"}, t0, false},
		{"new DNS name", []string{"pam.example.com", "other.example.com"}, t0, true},
		{"new IP", []string{"pam.example.com", "[2001:db8::1]"}, t0, true},
		{"29 days before expiry", []string{"pam.example.com"}, t0.Add(ServerLifetime - 29*24*time.Hour), true},
		{"31 days before expiry", []string{"pam.example.com"}, t0.Add(ServerLifetime - 31*24*time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ca1, c1, err := LoadOrCreate(dir, []string{"pam.example.com"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			ca2, c2, err := LoadOrCreate(dir, tt.hosts, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if ca1.Pin() != ca2.Pin() {
				t.Fatal("CA changed on reload")
			}
			renewed := c1.Leaf.SerialNumber.Cmp(c2.Leaf.SerialNumber) != 0
			if renewed != tt.renewed {
				t.Fatalf("renewed = %v, want %v", renewed, tt.renewed)
			}
			for _, h := range tt.hosts {
				if err := c2.Leaf.VerifyHostname(trimBrackets(h)); err != nil {
					t.Errorf("renewed certificate: %v", err)
				}
			}
			// A third load keeps what the second one wrote.
			_, c3, err := LoadOrCreate(dir, tt.hosts, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if c3.Leaf.SerialNumber.Cmp(c2.Leaf.SerialNumber) != 0 {
				t.Error("server certificate issued again on an unchanged reload")
			}
		})
	}
}

func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

func TestLoadOrCreateBrokenFiles(t *testing.T) {
	t.Run("CA certificate without key", func(t *testing.T) {
		dir := t.TempDir()
		if _, _, err := LoadOrCreate(dir, nil, t0); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, caKeyFile))
		if _, _, err := LoadOrCreate(dir, nil, t0); err == nil {
			t.Fatal("loaded a CA without its key")
		}
	})
	t.Run("corrupt server certificate is replaced", func(t *testing.T) {
		dir := t.TempDir()
		ca1, _, err := LoadOrCreate(dir, nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, serverCertFile), []byte("garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		ca2, c, err := LoadOrCreate(dir, nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		if ca2.Pin() != ca1.Pin() || c.Leaf == nil {
			t.Fatal("CA replaced or no server certificate")
		}
	})
	t.Run("lone CA key from an interrupted start", func(t *testing.T) {
		dir := t.TempDir()
		if _, _, err := LoadOrCreate(dir, nil, t0); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, caCertFile))
		if _, _, err := LoadOrCreate(dir, nil, t0); err != nil {
			t.Fatal(err)
		}
	})
}

// TestServerCertificateOverTLS checks a client pinning the CA, as agents
// and the CLI do, completes a TLS 1.3 handshake with the server certificate.
func TestServerCertificateOverTLS(t *testing.T) {
	ca, cert, err := LoadOrCreate(t.TempDir(), nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	pinned, err := tunnel.PinnedConfig(ca.Pin(), "localhost", nil)
	if err != nil {
		t.Fatal(err)
	}
	configs := map[string]*tls.Config{
		"pinned, localhost": pinned,
		"CA, 127.0.0.1":     tunnel.CAConfig(ca.Cert, "127.0.0.1"),
		"CA, ::1":           tunnel.CAConfig(ca.Cert, "::1"),
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		})
	}
	t.Run("wrong pin", func(t *testing.T) {
		other, _, err := LoadOrCreate(t.TempDir(), nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		cfg, _ := tunnel.PinnedConfig(other.Pin(), "localhost", nil)
		if c, err := tls.Dial("tcp", ln.Addr().String(), cfg); err == nil {
			c.Close()
			t.Fatal("handshake succeeded with another CA's pin")
		}
	})
}

func TestSignAgent(t *testing.T) {
	ca, _, err := LoadOrCreate(t.TempDir(), nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, key := range map[string]any{"ecdsa": ecKey, "ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
			if err != nil {
				t.Fatal(err)
			}
			p, serial, err := ca.SignAgent(csr, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", t0)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := pem.Decode(p)
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if cert.Subject.CommonName != "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" {
				t.Errorf("CN %q", cert.Subject.CommonName)
			}
			if SerialString(cert.SerialNumber) != serial || cert.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %q vs %v", serial, cert.SerialNumber)
			}
			if d := cert.NotAfter.Sub(t0); d < AgentLifetime-time.Minute || d > AgentLifetime {
				t.Errorf("lifetime %v", d)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("verify as client certificate: %v", err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0}); err == nil {
				t.Error("agent certificate verifies as a server certificate")
			}
		})
	}
}

func TestSignAgentRejects(t *testing.T) {
	ca, _, err := LoadOrCreate(t.TempDir(), nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, ecKey)
	tampered := slices.Clone(good)
	tampered[len(tampered)-5] ^= 0xff // inside the signature
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaCSR, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, rsaKey)
	tests := []struct {
		name    string
		csr     []byte
		agentID string
	}{
		{"garbage", []byte("not a csr"), "a"},
		{"empty", nil, "a"},
		{"bad signature", tampered, "a"},
		{"RSA key", rsaCSR, "a"},
		{"empty agent id", good, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ca.SignAgent(tt.csr, tt.agentID, t0); err == nil {
				t.Fatal("signed")
			}
		})
	}
}
