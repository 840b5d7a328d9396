package rdp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/onepam/onepam/agent/proxy/rdp/nla"
	"github.com/onepam/onepam/agent/proxy/rdp/wire"
)

// targetConn is the agent's connection to the RDP server after X.224,
// TLS and (with NLA) CredSSP.
type targetConn struct {
	raw       net.Conn
	tls       *tls.Conn
	requested uint32 // the protocols the agent asked for
	selected  uint32
}

// dialTarget connects to the RDP server as a client up to the end of
// the security layer.
func (s *session) dialTarget(ctx context.Context) (*targetConn, error) {
	addr := s.info.Target.Address
	dctx, cancel := context.WithTimeout(ctx, s.p.cfg.DialTimeout)
	c, err := s.info.Dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("reach RDP server %s: %w", addr, err)
	}
	tc := &targetConn{raw: c}
	if err := s.targetHandshake(tc); err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return tc, nil
}

func (s *session) targetHandshake(tc *targetConn) error {
	addr := s.info.Target.Address
	c := tc.raw
	c.SetDeadline(time.Now().Add(s.p.cfg.HandshakeTimeout))
	tc.requested = wire.ProtocolSSL
	if s.tc.Security == SecurityNLA {
		tc.requested |= wire.ProtocolHybrid
	}
	if _, err := c.Write(wire.AppendConnectionRequest(nil, s.tc.Username, tc.requested)); err != nil {
		return fmt.Errorf("RDP server %s: send connection request: %w", addr, err)
	}
	rd := wire.NewReader(c)
	_, pdu, err := rd.Next()
	if err != nil {
		return fmt.Errorf("RDP server %s: read connection confirm: %w", addr, err)
	}
	cc, err := wire.ParseConnectionConfirm(pdu)
	if err != nil {
		return fmt.Errorf("RDP server %s: %w", addr, err)
	}
	switch {
	case !cc.HasNeg:
		return fmt.Errorf("RDP server %s supports only standard RDP security, which the agent refuses (enable TLS or NLA on the server)", addr)
	case cc.Failure:
		return fmt.Errorf("RDP server %s refused the security negotiation: %s", addr, wire.NegFailureText(cc.Protocol))
	case cc.Protocol != wire.ProtocolSSL && cc.Protocol != wire.ProtocolHybrid:
		return fmt.Errorf("RDP server %s selected security protocol 0x%x, which the agent did not offer", addr, cc.Protocol)
	case cc.Protocol&tc.requested == 0:
		return fmt.Errorf("RDP server %s selected security protocol 0x%x, not one of the requested 0x%x", addr, cc.Protocol, tc.requested)
	}
	if rd.Buffered() != 0 {
		return fmt.Errorf("RDP server %s sent bytes before TLS", addr)
	}
	tc.selected = cc.Protocol
	tcfg, err := s.targetTLSConfig()
	if err != nil {
		return err
	}
	tc.tls = tls.Client(c, tcfg)
	if err := tc.tls.Handshake(); err != nil {
		return fmt.Errorf("RDP server %s: TLS: %w", addr, err)
	}
	if tc.selected == wire.ProtocolHybrid {
		client := &nla.Client{
			Creds:      nla.Credentials{Domain: s.tc.Domain, User: s.tc.Username, Password: s.password()},
			ServerCert: tc.tls.ConnectionState().PeerCertificates[0],
			Now:        s.info.Clock,
		}
		if err := client.Authenticate(tc.tls); err != nil {
			var ae *nla.AuthError
			if errors.As(err, &ae) {
				return fmt.Errorf("RDP server %s: %w", addr, err)
			}
			return fmt.Errorf("RDP server %s: NLA: %w", addr, err)
		}
	}
	return nil
}

func (s *session) password() string {
	if s.tc.Password != "" {
		return s.tc.Password
	}
	return s.info.Target.Credentials.Password
}

// targetTLSConfig checks the server's certificate as configured.
func (s *session) targetTLSConfig() (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(s.info.Target.Address)
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS10}
	tc := s.tc
	switch {
	case tc.IgnoreCert:
		cfg.InsecureSkipVerify = true
	case tc.CertFingerprint != "":
		want, err := tc.fingerprint()
		if err != nil {
			return nil, err
		}
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("the RDP server sent no certificate")
			}
			got := sha256.Sum256(raw[0])
			if !bytes.Equal(got[:], want) {
				return fmt.Errorf("the RDP server's certificate has SHA-256 %x, not the configured cert_fingerprint", got)
			}
			return nil
		}
	case tc.CAFile != "":
		pool, err := tc.caPool()
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
