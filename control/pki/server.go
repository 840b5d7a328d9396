package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"github.com/onepam/onepam/pkg/fsutil"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// hostNames lists the names of a server certificate, split by kind.
type hostNames struct {
	dns []string
	ips []net.IP
}

// serverNames returns the names every server certificate carries plus
// hosts, normalised (lowercase, IPv6 brackets removed) and deduplicated.
func serverNames(hosts []string) hostNames {
	all := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil {
		all = append(all, h)
	}
	all = append(all, hosts...)
	var n hostNames
	for _, h := range all {
		h = strings.ToLower(strings.TrimSpace(h))
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(n.ips, ip.Equal) {
				n.ips = append(n.ips, ip)
			}
			continue
		}
		if !slices.Contains(n.dns, h) {
			n.dns = append(n.dns, h)
		}
	}
	return n
}

// covers reports whether cert names every name of n.
func (n hostNames) coveredBy(cert *x509.Certificate) bool {
	for _, d := range n.dns {
		if !slices.ContainsFunc(cert.DNSNames, func(c string) bool { return strings.EqualFold(c, d) }) {
			return false
		}
	}
	for _, ip := range n.ips {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// loadServer loads the server certificate and checks it is still good for
// names at now; any error means "issue a new one".
func loadServer(dir string, ca *CA, names hostNames, now time.Time) (tls.Certificate, error) {
	certs, err := readCerts(filepath.Join(dir, serverCertFile))
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := readKey(filepath.Join(dir, serverKeyFile))
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf := certs[0]
	if !samePublicKey(leaf.PublicKey, key.Public()) {
		return tls.Certificate{}, fmt.Errorf("server key does not match the certificate")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:       ca.Pool(),
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return tls.Certificate{}, fmt.Errorf("server certificate: %w", err)
	}
	if now.Add(RenewBefore).After(leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("server certificate expires %s", leaf.NotAfter)
	}
	if !names.coveredBy(leaf) {
		return tls.Certificate{}, fmt.Errorf("server certificate lacks a requested name")
	}
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// issueServer creates a new server key and certificate for names, writes
// them to dir and returns them.
func (ca *CA) issueServer(dir string, names hostNames, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create server key: %w", err)
	}
	cert, err := ca.signServer(names, key, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, serverKeyFile), keyPEM, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, serverCertFile), certPEM(cert.Certificate[0], ca.Cert.Raw), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return cert, nil
}

// SignServerName issues a server certificate naming only host, for the
// key of an existing server certificate (kept in memory, never written).
// Control uses it for app hosts under a one-label apps domain: clients
// (curl, browsers) do not honour a wildcard like *.localhost.
func (ca *CA) SignServerName(host string, key crypto.Signer, now time.Time) (tls.Certificate, error) {
	return ca.signServer(hostNames{dns: []string{strings.ToLower(host)}}, key, now)
}

// signServer signs a server certificate for names and key, valid
// ServerLifetime (capped at the CA's expiry), chained with the CA.
func (ca *CA) signServer(names hostNames, key crypto.Signer, now time.Time) (tls.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	notAfter := now.Add(ServerLifetime)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "OnePAM control", Organization: []string{"OnePAM"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names.dns,
		IPAddresses:  names.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}
