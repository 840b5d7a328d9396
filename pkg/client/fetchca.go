package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/onepam/onepam/pkg/tunnel"
)

// FetchCA connects to control at rawURL and returns the CA certificate its
// TLS chain ends with (the last self-signed CA certificate) and that CA's
// pin. When pin is given, the chain must contain the CA with that pin
// (tunnel.PinnedConfig); when pin is "", the CA is trusted on first use.
// Either way the server's certificate must verify against the CA for the
// URL's hostname.
func FetchCA(ctx context.Context, rawURL, pin string) (caPEM []byte, caPin string, err error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, "", err
	}
	serverName := u.Hostname()
	var seen *x509.Certificate
	var tc *tls.Config
	if pin != "" {
		tc, err = tunnel.PinnedConfig(pin, serverName, func(ca *x509.Certificate) { seen = ca })
		if err != nil {
			return nil, "", err
		}
	} else {
		tc = &tls.Config{
			MinVersion:         tls.VersionTLS13,
			ServerName:         serverName,
			InsecureSkipVerify: true, // trust on first use: verified below against the chain's own CA
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				ca, err := chainCA(raw, serverName)
				if err != nil {
					return err
				}
				seen = ca
				return nil
			},
		}
	}
	tc.NextProtos = []string{"http/1.1"}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 30 * time.Second}, Config: tc}
	conn, err := d.DialContext(ctx, "tcp", hostPort(u))
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, "", &NetworkError{URL: u.String(), Err: err}
	}
	conn.Close()
	if seen == nil {
		return nil, "", errors.New("control's TLS chain has no CA certificate")
	}
	return EncodeCertPEM(seen), tunnel.CAPin(seen), nil
}

// chainCA finds the CA certificate a server chain ends with and checks the
// leaf against it for serverName.
func chainCA(raw [][]byte, serverName string) (*x509.Certificate, error) {
	certs := make([]*x509.Certificate, 0, len(raw))
	for _, r := range raw {
		c, err := x509.ParseCertificate(r)
		if err != nil {
			return nil, fmt.Errorf("parse control's certificate: %w", err)
		}
		certs = append(certs, c)
	}
	var ca *x509.Certificate
	for i := len(certs) - 1; i >= 0; i-- {
		c := certs[i]
		if c.IsCA && c.CheckSignatureFrom(c) == nil {
			ca = c
			break
		}
	}
	if ca == nil {
		return nil, errors.New("control's TLS chain has no self-signed CA certificate: give its pin with --ca-pin")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: serverName, Roots: roots, Intermediates: inter}); err != nil {
		return nil, fmt.Errorf("verify control's certificate against its CA: %w", err)
	}
	return ca, nil
}
