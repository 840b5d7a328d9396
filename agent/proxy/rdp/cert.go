package rdp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// serverCert returns the certificate shown to the person's RDP client:
// the configured files, or a self-signed one made once.
func (p *Proxy) serverCert() (tls.Certificate, error) {
	p.certOnce.Do(func() {
		if p.cfg.CertFile != "" {
			p.cert, p.certErr = tls.LoadX509KeyPair(p.cfg.CertFile, p.cfg.KeyFile)
			if p.certErr != nil {
				p.certErr = fmt.Errorf("rdp: load the client-facing certificate: %w", p.certErr)
			}
			return
		}
		p.cert, p.certErr = selfSigned(time.Now())
	})
	return p.cert, p.certErr
}

// selfSigned makes an ECDSA P-256 certificate for "onepam-agent", valid
// for a year from now.
func selfSigned(now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "onepam-agent"},
		DNSNames:     []string{"onepam-agent", "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
