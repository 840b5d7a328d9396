package agent

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/onepam/onepam/pkg/fsutil"
	"os"
	"path/filepath"
)

// Files of an agent's data directory.
const (
	identityFile = "identity.json" // written last: its presence means enrolled
	keyFile      = "agent.key"     // PKCS#8 private key, PEM, mode 0600
	certFile     = "agent.crt"     // client certificate issued by control, PEM
	caFile       = "ca.crt"        // control's CA, PEM
	spoolDir     = "spool"
)

// identityJSON is the content of identity.json.
type identityJSON struct {
	AgentID     string `json:"agent_id"`     // control's id for this agent (certificate CommonName)
	Name        string `json:"name"`         // the agent's name at control
	ControlAddr string `json:"control_addr"` // control's agent address used at enrollment
}

// identity is an enrolled agent's credentials.
type identity struct {
	identityJSON
	cert tls.Certificate
	ca   *x509.Certificate
}

// loadIdentity reads the identity of dir; ok is false when the agent is
// not enrolled yet.
func loadIdentity(dir string) (id identity, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if errors.Is(err, os.ErrNotExist) {
		return identity{}, false, nil
	}
	if err != nil {
		return identity{}, false, fmt.Errorf("read agent identity: %w", err)
	}
	if err := json.Unmarshal(b, &id.identityJSON); err != nil {
		return identity{}, false, fmt.Errorf("parse %s: %w", filepath.Join(dir, identityFile), err)
	}
	id.cert, err = tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err != nil {
		return identity{}, false, fmt.Errorf("load agent certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		return identity{}, false, fmt.Errorf("read control's CA: %w", err)
	}
	if id.ca, err = parseCertPEM(caPEM); err != nil {
		return identity{}, false, fmt.Errorf("parse %s: %w", filepath.Join(dir, caFile), err)
	}
	return id, true, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// saveIdentity writes the identity files, each atomically, identity.json
// last.
func saveIdentity(dir string, id identityJSON, keyPEM, certPEM, caPEM []byte) error {
	js, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{keyFile, keyPEM, 0o600},
		{certFile, certPEM, 0o644},
		{caFile, caPEM, 0o644},
		{identityFile, append(js, '\n'), 0o644},
	} {
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}
