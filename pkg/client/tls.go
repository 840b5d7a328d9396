package client

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/onepam/onepam/pkg/tunnel"
)

// sessionCacheSize is how many TLS sessions are kept for resumption.
const sessionCacheSize = 64

// tlsConfig builds the client TLS configuration: the saved CA when known,
// else the CA pin, else ErrUnknownCA. HTTP/1.1 only (the session upgrade
// needs it), with a session cache so that repeated connections resume.
func tlsConfig(cfg Config, serverName string) (*tls.Config, error) {
	var tc *tls.Config
	switch {
	case len(cfg.CAPEM) > 0:
		pool, err := parseCAPool(cfg.CAPEM)
		if err != nil {
			return nil, err
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: serverName}
	case cfg.CAPin != "":
		pc, err := tunnel.PinnedConfig(cfg.CAPin, serverName, nil)
		if err != nil {
			return nil, err
		}
		tc = pc
	default:
		return nil, ErrUnknownCA
	}
	tc.NextProtos = []string{"http/1.1"}
	tc.ClientSessionCache = tls.NewLRUClientSessionCache(sessionCacheSize)
	return tc, nil
}

// parseCAPool reads every certificate of a PEM bundle into a pool.
func parseCAPool(pemBytes []byte) (*x509.CertPool, error) {
	certs, err := ParseCertsPEM(pemBytes)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ParseCertsPEM parses the CERTIFICATE blocks of a PEM bundle.
func ParseCertsPEM(pemBytes []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := pemBytes
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse control's CA certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("control's CA certificate: no PEM certificate found")
	}
	return certs, nil
}

// EncodeCertPEM returns the PEM encoding of a certificate.
func EncodeCertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
