package tunnel

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// CAPin returns the pin of a CA certificate: "sha256:" + hex of the SHA-256
// of its DER encoding.
func CAPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NormalizePin accepts "sha256:<hex>" or bare hex and returns the canonical form.
func NormalizePin(pin string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(pin))
	p = strings.TrimPrefix(p, "sha256:")
	b, err := hex.DecodeString(p)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("bad CA pin %q: want sha256:<64 hex digits>", pin)
	}
	return "sha256:" + p, nil
}

// PinnedConfig returns a client TLS configuration that accepts a server
// whose chain contains a CA certificate with the given pin and whose leaf
// verifies against that CA for serverName. It is used on first contact,
// before the CA itself has been saved (enrollment, onepam login).
// When seen is non-nil it receives the pinned CA certificate.
func PinnedConfig(pin, serverName string, seen func(ca *x509.Certificate)) (*tls.Config, error) {
	want, err := NormalizePin(pin)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		ServerName:         serverName,
		InsecureSkipVerify: true, // verified below against the pinned CA
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			certs := make([]*x509.Certificate, 0, len(raw))
			for _, r := range raw {
				c, err := x509.ParseCertificate(r)
				if err != nil {
					return fmt.Errorf("parse server certificate: %w", err)
				}
				certs = append(certs, c)
			}
			for _, c := range certs {
				if subtle.ConstantTimeCompare([]byte(CAPin(c)), []byte(want)) != 1 {
					continue
				}
				if err := verifyLeaf(certs, c, serverName); err != nil {
					return err
				}
				if seen != nil {
					seen(c)
				}
				return nil
			}
			return errors.New("control's certificate does not chain to the pinned CA " + want)
		},
	}, nil
}

// CAConfig returns a client TLS configuration trusting only the given CA.
func CAConfig(ca *x509.Certificate, serverName string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: serverName}
}

func verifyLeaf(certs []*x509.Certificate, ca *x509.Certificate, serverName string) error {
	if len(certs) == 0 {
		return errors.New("no server certificate")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{DNSName: serverName, Roots: roots, Intermediates: inter})
	if err != nil {
		return fmt.Errorf("verify control's certificate: %w", err)
	}
	return nil
}
