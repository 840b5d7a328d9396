package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/agent/proxy"
)

// Config configures the SSH proxy. Zero fields take the defaults of
// withDefaults.
type Config struct {
	// HostKeyFile is the agent's Ed25519 host key (OpenSSH private key
	// format), created on first use; the agent puts it in its data dir as
	// ssh_host_ed25519_key. "" keeps a key in memory for the process's
	// life (tests).
	HostKeyFile string
	// DialTimeout bounds reaching and authenticating to the target.
	// Default 15 s.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the person's SSH handshake on a conn
	// stream. Default 30 s.
	HandshakeTimeout time.Duration
	// BufferSize is the copy buffer per direction of a channel. Default
	// 64 KiB.
	BufferSize int
	// FlushInterval is how often the recording is flushed while data
	// flows, so live watchers see it. Default 1 s.
	FlushInterval time.Duration
	// DrainTimeout is how long a built-in target's output is still read
	// after its process exited (a background child may hold it open).
	// Default 250 ms.
	DrainTimeout time.Duration
	// Ciphers, when set, replaces the cipher preference of both SSH
	// connections. Default: AES-GCM first (hardware accelerated), then
	// chacha20-poly1305 and AES-CTR.
	Ciphers []string
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 15 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 30 * time.Second
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 64 << 10
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 250 * time.Millisecond
	}
	if len(c.Ciphers) == 0 {
		c.Ciphers = []string{
			"aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
			"chacha20-poly1305@openssh.com",
			"aes128-ctr", "aes192-ctr", "aes256-ctr",
		}
	}
	return c
}

// Proxy is the SSH proxy. It is safe for concurrent use.
type Proxy struct {
	cfg  Config
	bufs sync.Pool

	keyMu  sync.Mutex
	signer gossh.Signer
}

// New returns an SSH proxy.
func New(cfg Config) *Proxy {
	cfg = cfg.withDefaults()
	p := &Proxy{cfg: cfg}
	p.bufs.New = func() any { b := make([]byte, cfg.BufferSize); return &b }
	return p
}

// Open starts a session: for an ssh server target it dials the target,
// verifies its host key and logs in as the session's login (that
// connection carries every channel of the session); for a built-in target
// it checks the OS user.
func (p *Proxy) Open(ctx context.Context, info *proxy.SessionInfo) (proxy.Session, error) {
	tc, ok := info.Target.Options.(*TargetConfig)
	if !ok || tc == nil {
		return nil, fmt.Errorf("resource %q has no ssh settings", info.Target.Name)
	}
	signer, err := p.hostKey()
	if err != nil {
		return nil, err
	}
	var be backend
	if tc.Builtin {
		be, err = newBuiltin(p, info, tc)
	} else {
		be, err = dialRemote(ctx, p, info, tc)
	}
	if err != nil {
		return nil, err
	}
	return newSession(p, info, tc, be, signer), nil
}

// hostKey loads (or creates) the agent's host key once.
func (p *Proxy) hostKey() (gossh.Signer, error) {
	p.keyMu.Lock()
	defer p.keyMu.Unlock()
	if p.signer != nil {
		return p.signer, nil
	}
	s, err := loadOrCreateHostKey(p.cfg.HostKeyFile)
	if err != nil {
		return nil, err
	}
	p.signer = s
	return s, nil
}

// loadOrCreateHostKey reads an Ed25519 host key, creating it (mode 0600)
// when the file does not exist; path "" makes an in-memory key.
func loadOrCreateHostKey(path string) (gossh.Signer, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		if err == nil {
			s, err := gossh.ParsePrivateKey(b)
			if err != nil {
				return nil, fmt.Errorf("ssh host key %s: %w", path, err)
			}
			return s, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("ssh host key: %w", err)
		}
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ssh host key: %w", err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("ssh host key: %w", err)
	}
	if path == "" {
		return s, nil
	}
	blk, err := gossh.MarshalPrivateKey(priv, "onepam-agent host key")
	if err != nil {
		return nil, fmt.Errorf("encode ssh host key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("ssh host key: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, fmt.Errorf("write ssh host key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("write ssh host key: %w", err)
	}
	return s, nil
}
