package agent

import (
	"bytes"
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
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// SplitToken splits an enrollment token "<secret>.<pin hex>" at its last
// '.' into the secret and the canonical CA pin "sha256:<hex>".
func SplitToken(token string) (secret, pin string, err error) {
	token = strings.TrimSpace(token)
	i := strings.LastIndexByte(token, '.')
	if i <= 0 || i == len(token)-1 {
		return "", "", errors.New("malformed enrollment token: want <secret>.<CA pin>, as printed by onepam agents token create")
	}
	pin, err = tunnel.NormalizePin(token[i+1:])
	if err != nil {
		return "", "", fmt.Errorf("malformed enrollment token: %w", err)
	}
	return token[:i], pin, nil
}

// hostOf returns the host part of a host:port address (for TLS
// verification).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// enroll exchanges the enrollment token for a certificate and saves the
// identity in the data directory. Dial failures (control not up yet) are
// retried with backoff; a refusal, a pin mismatch or a protocol error ends
// enrollment with an error.
func (a *Agent) enroll(ctx context.Context) (identity, error) {
	cfg := a.cfg
	if cfg.Token == "" || cfg.ControlAddr == "" {
		return identity{}, ErrNotEnrolled
	}
	secret, pin, err := SplitToken(cfg.Token)
	if err != nil {
		return identity{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return identity{}, fmt.Errorf("generate agent key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cfg.Name}}, key)
	if err != nil {
		return identity{}, fmt.Errorf("create certificate request: %w", err)
	}
	req := api.EnrollRequest{Token: secret, Name: cfg.Name, Hostname: hostname(), CSR: csr, Version: cfg.Version}

	bo := newBackoff(cfg.ReconnectMin, cfg.ReconnectMax)
	var resp api.EnrollResponse
	var ca *x509.Certificate
	for {
		resp, ca, err = a.enrollOnce(ctx, pin, req)
		var dialErr *dialError
		if err == nil || !errors.As(err, &dialErr) {
			break
		}
		d := bo.next()
		cfg.Logger.Warn("cannot reach control to enroll; retrying", "control", cfg.ControlAddr, "err", err, "retry_in", d)
		select {
		case <-ctx.Done():
			return identity{}, ctx.Err()
		case <-time.After(d):
		}
	}
	if err != nil {
		return identity{}, err
	}
	if resp.Error != "" {
		return identity{}, fmt.Errorf("control refused the enrollment: %s", resp.Error)
	}
	cert, err := parseCertPEM(resp.CertPEM)
	if err != nil {
		return identity{}, fmt.Errorf("enrollment answer: bad certificate: %w", err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return identity{}, errors.New("enrollment answer: the certificate is not for this agent's key")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return identity{}, fmt.Errorf("enrollment answer: certificate not issued by control's CA: %w", err)
	}
	if resp.AgentID == "" || cert.Subject.CommonName != resp.AgentID {
		return identity{}, fmt.Errorf("enrollment answer: agent id %q does not match the certificate (%q)", resp.AgentID, cert.Subject.CommonName)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return identity{}, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	name := resp.Name
	if name == "" {
		name = cfg.Name
	}
	ij := identityJSON{AgentID: resp.AgentID, Name: name, ControlAddr: cfg.ControlAddr}
	if err := saveIdentity(cfg.DataDir, ij, keyPEM, certPEM, caPEM); err != nil {
		return identity{}, fmt.Errorf("save agent identity: %w", err)
	}
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return identity{}, err
	}
	cfg.Logger.Info("enrolled with control", "agent_id", resp.AgentID, "name", name, "control", cfg.ControlAddr)
	return identity{identityJSON: ij, cert: tc, ca: ca}, nil
}

// dialError marks a failure to reach control at all (worth retrying).
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// enrollOnce runs one enrollment exchange directly on a TLS connection
// (no yamux): header StreamEnroll + EnrollRequest, one EnrollResponse
// frame. It returns the CA certificate that matched the pin.
func (a *Agent) enrollOnce(ctx context.Context, pin string, req api.EnrollRequest) (api.EnrollResponse, *x509.Certificate, error) {
	cfg := a.cfg
	var ca *x509.Certificate
	tlsCfg, err := tunnel.PinnedConfig(pin, hostOf(cfg.ControlAddr), func(c *x509.Certificate) { ca = c })
	if err != nil {
		return api.EnrollResponse{}, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	raw, err := cfg.Dial(ctx, "tcp", cfg.ControlAddr)
	if err != nil {
		return api.EnrollResponse{}, nil, &dialError{fmt.Errorf("dial control %s: %w", cfg.ControlAddr, err)}
	}
	conn := tls.Client(raw, tlsCfg)
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.HandshakeContext(ctx); err != nil {
		return api.EnrollResponse{}, nil, fmt.Errorf("enroll: TLS handshake with control %s: %w", cfg.ControlAddr, err)
	}
	if ca == nil {
		return api.EnrollResponse{}, nil, errors.New("enroll: control's CA was not seen")
	}
	if err := tunnel.WriteHeader(conn, api.StreamEnroll, req); err != nil {
		return api.EnrollResponse{}, nil, fmt.Errorf("enroll: send request: %w", err)
	}
	var resp api.EnrollResponse
	if err := tunnel.ReadFrame(conn, &resp); err != nil {
		return api.EnrollResponse{}, nil, fmt.Errorf("enroll: read control's answer: %w", err)
	}
	if len(resp.CAPEM) > 0 {
		if sent, err := parseCertPEM(resp.CAPEM); err != nil || !bytes.Equal(sent.Raw, ca.Raw) {
			return api.EnrollResponse{}, nil, errors.New("enroll: control sent a CA that does not match the pinned one")
		}
	}
	return resp, ca, nil
}
