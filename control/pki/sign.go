package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"
)

// SignAgent checks a PKCS#10 certificate request (DER) and issues a client
// certificate for agentID: CommonName = agentID, client authentication
// only, valid AgentLifetime (capped at the CA's expiry), random 128-bit
// serial. The request's own subject is ignored. Keys must be ECDSA
// (P-256 or P-384) or Ed25519. It returns the certificate in PEM form and
// its serial as lowercase hex (see SerialString).
func (ca *CA) SignAgent(csrDER []byte, agentID string, now time.Time) (certPEMBytes []byte, serial string, err error) {
	if agentID == "" {
		return nil, "", errors.New("sign agent certificate: empty agent id")
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, "", fmt.Errorf("bad certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, "", fmt.Errorf("bad certificate request signature: %w", err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, "", fmt.Errorf("bad certificate request: ECDSA curve %s not accepted (use P-256)", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return nil, "", fmt.Errorf("bad certificate request: key type %T not accepted (use ECDSA P-256 or Ed25519)", csr.PublicKey)
	}
	sn, err := randomSerial()
	if err != nil {
		return nil, "", err
	}
	notAfter := now.Add(AgentLifetime)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: agentID, Organization: []string{"OnePAM agents"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, "", fmt.Errorf("sign agent certificate: %w", err)
	}
	return certPEM(der), SerialString(sn), nil
}
