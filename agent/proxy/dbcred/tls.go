package dbcred

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// TLS is the client side of TLS towards a database server. Disabled TLS
// has no TLS value: the caller makes no tls.Config.
type TLS struct {
	// Verify checks the server's certificate chain (against CAFile, or the
	// system roots when CAFile is "") and host name (verify-full); false
	// encrypts without checking (require, libpq's semantics).
	Verify bool
	// CAFile is a PEM file of CA certificates; used with Verify.
	CAFile string
	// ServerName is the host name Verify checks; "" means the host of the
	// address.
	ServerName string
	// CertFile and KeyFile are a PEM client certificate and its key,
	// presented to the server; both or neither.
	CertFile, KeyFile string
}

// Config builds the tls.Config towards the server at addr (host:port).
// Errors name the setting at fault (client certificate, ca_file).
func (t TLS) Config(addr string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if !t.Verify {
		cfg.InsecureSkipVerify = true // require: encrypt, do not verify (libpq semantics)
		return cfg, nil
	}
	cfg.ServerName = t.ServerName
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
