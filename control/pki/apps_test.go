package pki

import (
	"crypto"
	"crypto/x509"
	"slices"
	"testing"
	"time"
)

// TestAppNames: names added to an existing data dir (an apps domain set
// later) get the server certificate issued again with them, and
// SignServerName issues a one-host certificate for the server key.
func TestAppNames(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	_, before, err := LoadOrCreate(dir, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, after, err := LoadOrCreate(dir, []string{"apps.example.com", "*.apps.example.com"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(before.Certificate[0], after.Certificate[0]) {
		t.Fatal("the server certificate was not issued again for the new names")
	}
	for _, n := range []string{"apps.example.com", "*.apps.example.com", "localhost"} {
		if !slices.Contains(after.Leaf.DNSNames, n) {
			t.Errorf("server certificate lacks %s: %v", n, after.Leaf.DNSNames)
		}
	}
	if err := after.Leaf.VerifyHostname("wiki.apps.example.com"); err != nil {
		t.Errorf("wildcard: %v", err)
	}
	c, err := ca.SignServerName("Wiki.Localhost", after.PrivateKey.(crypto.Signer), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "wiki.localhost", CurrentTime: now}); err != nil {
		t.Fatalf("one-host certificate: %v", err)
	}
	if len(c.Leaf.DNSNames) != 1 || len(c.Certificate) != 2 {
		t.Fatalf("one-host certificate names %v, chain %d", c.Leaf.DNSNames, len(c.Certificate))
	}
}
