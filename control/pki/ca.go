package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"github.com/onepam/onepam/pkg/fsutil"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/onepam/onepam/pkg/tunnel"
)

// Lifetimes of the certificates this package issues.
const (
	CALifetime     = 10 * 365 * 24 * time.Hour
	ServerLifetime = 2 * 365 * 24 * time.Hour
	AgentLifetime  = 5 * 365 * 24 * time.Hour
	// RenewBefore: a server certificate expiring within this window is
	// replaced at start.
	RenewBefore = 30 * 24 * time.Hour
	// backdate covers clocks that run slightly behind ours.
	backdate = time.Hour
)

// CA is control's certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Pin returns the CA pin, "sha256:<hex>" of the certificate's DER.
func (ca *CA) Pin() string { return tunnel.CAPin(ca.Cert) }

// CertPEM returns the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte { return certPEM(ca.Cert.Raw) }

// Pool returns a certificate pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// LoadOrCreate loads the CA and the server certificate from dir, creating
// what is missing. The server certificate names localhost, 127.0.0.1, ::1,
// the host name and hosts (DNS names or IP addresses); it is issued again
// when it lacks one of those names, does not verify against the CA, or
// expires within RenewBefore of now. The returned tls.Certificate carries
// the CA certificate after the leaf, so that clients pinning the CA find it
// in the chain.
func LoadOrCreate(dir string, hosts []string, now time.Time) (*CA, tls.Certificate, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, tls.Certificate{}, fmt.Errorf("create %s: %w", dir, err)
	}
	ca, err := loadOrCreateCA(dir, now)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	names := serverNames(hosts)
	cert, err := loadServer(dir, ca, names, now)
	if err == nil {
		return ca, cert, nil
	}
	cert, err = ca.issueServer(dir, names, now)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	return ca, cert, nil
}

// loadOrCreateCA loads ca.crt and ca.key. With no ca.crt a new CA is
// created (a lone ca.key is left over from an interrupted first start and
// was never used to sign anything); a ca.crt without its key is an error.
func loadOrCreateCA(dir string, now time.Time) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	ok, err := exists(certPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	if !ok {
		return createCA(dir, now)
	}
	certs, err := readCerts(certPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load CA key (%s exists, so its key is needed): %w", certPath, err)
	}
	ca := &CA{Cert: certs[0], Key: key}
	if !ca.Cert.IsCA {
		return nil, fmt.Errorf("load CA: %s is not a CA certificate", certPath)
	}
	if !samePublicKey(ca.Cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("load CA: %s does not match %s", keyPath, certPath)
	}
	return ca, nil
}

func createCA(dir string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "OnePAM CA", Organization: []string{"OnePAM"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	// Key first: a crash in between leaves a lone key, which the next start
	// replaces (see loadOrCreateCA).
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, caKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, caCertFile), certPEM(der), 0o600); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// randomSerial returns a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("certificate serial: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// SerialString formats a certificate serial number the way SignAgent
// returns it (lowercase hex), for comparison with a presented certificate.
func SerialString(n *big.Int) string { return n.Text(16) }

func samePublicKey(a, b crypto.PublicKey) bool {
	da, err1 := x509.MarshalPKIXPublicKey(a)
	db, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}
