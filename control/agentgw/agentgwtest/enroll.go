package agentgwtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// Identity is what an agent keeps after enrolling.
type Identity struct {
	AgentID string
	Name    string
	Cert    tls.Certificate // client certificate with its key
	CA      *x509.Certificate
}

// RefusedError is an enrollment control refused; Message is its answer.
type RefusedError struct{ Message string }

func (e *RefusedError) Error() string { return "enrollment refused: " + e.Message }

// NewCSR returns a new ECDSA P-256 key and a certificate request for it.
func NewCSR() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "agent"}}, key)
	if err != nil {
		return nil, nil, err
	}
	return key, csr, nil
}

// DialEnroll opens a TLS connection without client certificate, verifying
// control against the CA pin (server name "localhost").
func DialEnroll(ctx context.Context, addr, pin string) (*tls.Conn, error) {
	cfg, err := tunnel.PinnedConfig(pin, "localhost", nil)
	if err != nil {
		return nil, err
	}
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// Exchange sends one enrollment request and returns control's answer as is.
func Exchange(ctx context.Context, addr, pin string, req api.EnrollRequest) (api.EnrollResponse, error) {
	c, err := DialEnroll(ctx, addr, pin)
	if err != nil {
		return api.EnrollResponse{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := tunnel.WriteHeader(c, api.StreamEnroll, req); err != nil {
		return api.EnrollResponse{}, err
	}
	var resp api.EnrollResponse
	if err := tunnel.ReadFrame(c, &resp); err != nil {
		return api.EnrollResponse{}, fmt.Errorf("read enrollment answer: %w", err)
	}
	return resp, nil
}

// Enroll exchanges token (its secret part) for a certificate. A refusal is
// a *RefusedError.
func Enroll(ctx context.Context, addr, pin, token, name string) (*Identity, error) {
	key, csr, err := NewCSR()
	if err != nil {
		return nil, err
	}
	resp, err := Exchange(ctx, addr, pin, api.EnrollRequest{Token: token, Name: name, Hostname: "test-host", CSR: csr, Version: "test"})
	if err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, &RefusedError{Message: resp.Error}
	}
	b, _ := pem.Decode(resp.CertPEM)
	if b == nil {
		return nil, errors.New("enrollment answer holds no certificate")
	}
	cb, _ := pem.Decode(resp.CAPEM)
	if cb == nil {
		return nil, errors.New("enrollment answer holds no CA")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	if tunnel.CAPin(ca) != pin {
		return nil, errors.New("enrollment answer's CA does not match the pin")
	}
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, err
	}
	return &Identity{
		AgentID: resp.AgentID,
		Name:    resp.Name,
		Cert:    tls.Certificate{Certificate: [][]byte{b.Bytes}, PrivateKey: key, Leaf: leaf},
		CA:      ca,
	}, nil
}
