package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/onepam/onepam/agent/proxy"
)

// remote is an sshd target: one authenticated client connection.
type remote struct {
	client *gossh.Client
	dead   chan struct{}
}

// dialRemote reaches the target, verifies its host key and logs in as the
// session's login.
func dialRemote(ctx context.Context, p *Proxy, info *proxy.SessionInfo, tc *TargetConfig) (*remote, error) {
	addr := info.Target.Address
	if addr == "" {
		return nil, fmt.Errorf("resource %q has no target address", info.Target.Name)
	}
	login, err := tc.login(info.Open.Login)
	if err != nil {
		return nil, err
	}
	creds, err := tc.credentials(login)
	if err != nil {
		return nil, err
	}
	auth, err := authMethods(creds)
	if err != nil {
		return nil, fmt.Errorf("login %q: %w", login, err)
	}
	hkcb, algos, err := hostKeyCheck(tc, addr)
	if err != nil {
		return nil, err
	}
	cfg := &gossh.ClientConfig{
		User:              login,
		Auth:              auth,
		HostKeyCallback:   hkcb,
		HostKeyAlgorithms: algos,
		Timeout:           p.cfg.DialTimeout,
		Config:            gossh.Config{Ciphers: p.cfg.Ciphers},
	}
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	conn, err := info.Dial(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("reach target %s: %w", addr, err)
	}
	deadline, _ := dctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { conn.SetDeadline(time.Now()) })
	sc, chans, reqs, err := gossh.NewClientConn(conn, addr, cfg)
	stop()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh to %s as %q: %w", addr, login, err)
	}
	conn.SetDeadline(time.Time{})
	r := &remote{client: gossh.NewClient(sc, chans, reqs), dead: make(chan struct{})}
	go func() { r.client.Wait(); close(r.dead) }()
	return r, nil
}

// authMethods turns a login's credentials into SSH auth methods.
func authMethods(c LoginConfig) ([]gossh.AuthMethod, error) {
	if c.KeyFile != "" {
		b, err := os.ReadFile(c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("read key file: %w", err)
		}
		s, err := gossh.ParsePrivateKey(b)
		var pp *gossh.PassphraseMissingError
		if errors.As(err, &pp) {
			return nil, fmt.Errorf("key file %s is passphrase-protected; the agent needs an unencrypted key", c.KeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", c.KeyFile, err)
		}
		return []gossh.AuthMethod{gossh.PublicKeys(s)}, nil
	}
	pw := c.Password
	return []gossh.AuthMethod{
		gossh.Password(pw),
		gossh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			a := make([]string, len(qs))
			for i := range a {
				a[i] = pw
			}
			return a, nil
		}),
	}, nil
}

// hostKeyCheck returns the host key callback of the target and the host key
// algorithms to ask for (those of the pinned or known keys, so the server
// presents a key that can match).
func hostKeyCheck(tc *TargetConfig, addr string) (gossh.HostKeyCallback, []string, error) {
	mismatch := func(host string, err error) error {
		return fmt.Errorf("target host key mismatch for %s: %w", host, err)
	}
	switch {
	case tc.HostKey != "":
		want, _, _, _, err := gossh.ParseAuthorizedKey([]byte(tc.HostKey))
		if err != nil {
			return nil, nil, fmt.Errorf("host_key: %w", err)
		}
		cb := func(host string, _ net.Addr, got gossh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			return mismatch(host, fmt.Errorf("the server presented %s %s, the resource pins %s %s",
				got.Type(), gossh.FingerprintSHA256(got), want.Type(), gossh.FingerprintSHA256(want)))
		}
		return cb, algorithmsFor(want.Type()), nil
	case tc.KnownHosts != "":
		kh, err := knownhosts.New(tc.KnownHosts)
		if err != nil {
			return nil, nil, fmt.Errorf("known_hosts: %w", err)
		}
		cb := func(host string, remote net.Addr, key gossh.PublicKey) error {
			err := kh(host, remote, key)
			var ke *knownhosts.KeyError
			if errors.As(err, &ke) {
				if len(ke.Want) == 0 {
					return mismatch(host, fmt.Errorf("%s is not in %s", host, tc.KnownHosts))
				}
				return mismatch(host, fmt.Errorf("the server presented %s %s, which %s does not list for it",
					key.Type(), gossh.FingerprintSHA256(key), tc.KnownHosts))
			}
			return err
		}
		return cb, knownAlgorithms(kh, addr), nil
	case tc.InsecureIgnoreHostKey:
		return gossh.InsecureIgnoreHostKey(), nil, nil
	}
	return nil, nil, errors.New("the target's host key cannot be verified: set host_key or known_hosts (or insecure_ignore_host_key: true)")
}

// knownAlgorithms asks the known_hosts callback which keys it knows for
// addr (by offering a key it cannot know) and returns their algorithms.
func knownAlgorithms(kh gossh.HostKeyCallback, addr string) []string {
	probe, err := gossh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize))) // nobody's key
	if err != nil {
		return nil
	}
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	var ke *knownhosts.KeyError
	if err := kh(addr, tcp, probe); !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		for _, a := range algorithmsFor(k.Key.Type()) {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

// algorithmsFor lists the host key signature algorithms of a key type.
func algorithmsFor(keyType string) []string {
	if keyType == gossh.KeyAlgoRSA {
		return []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256, gossh.KeyAlgoRSA}
	}
	return []string{keyType}
}

func (r *remote) shell() string         { return "" }
func (r *remote) done() <-chan struct{} { return r.dead }
func (r *remote) close() error          { return r.client.Close() }

func (r *remote) forward(_ context.Context, _ string, _ uint32, payload []byte) (io.ReadWriteCloser, error) {
	ch, reqs, err := r.client.OpenChannel("direct-tcpip", payload)
	if err != nil {
		return nil, err
	}
	go gossh.DiscardRequests(reqs)
	return ch, nil
}

func (r *remote) openSession(context.Context) (targetSession, error) {
	ch, reqs, err := r.client.OpenChannel("session", nil)
	if err != nil {
		return nil, fmt.Errorf("open a session on the target: %w", err)
	}
	exit := make(chan exitMsg, 2)
	go func() {
		defer close(exit)
		for req := range reqs {
			switch req.Type {
			case "exit-status", "exit-signal":
				select {
				case exit <- exitMsg{typ: req.Type, payload: req.Payload}:
				default: // more than one is a target bug; keep the first
				}
			}
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}()
	return &remoteSession{ch: ch, exit: exit}, nil
}

// remoteSession is a session channel on the target.
type remoteSession struct {
	ch   gossh.Channel
	exit <-chan exitMsg
}

func (s *remoteSession) request(typ string, wantReply bool, payload []byte) (bool, error) {
	return s.ch.SendRequest(typ, wantReply, payload)
}

func (s *remoteSession) start(typ string, payload []byte) (*streams, bool, error) {
	ok, err := s.ch.SendRequest(typ, true, payload)
	if err != nil || !ok {
		return nil, ok, err
	}
	return &streams{stdin: eofWriter{s.ch}, stdout: s.ch, stderr: s.ch.Stderr(), exit: s.exit}, true, nil
}

func (s *remoteSession) sftp() (fileSystem, error) {
	ok, err := s.ch.SendRequest("subsystem", true, gossh.Marshal(subsystemRequest{Name: "sftp"}))
	if err != nil {
		return nil, fmt.Errorf("start sftp on the target: %w", err)
	}
	if !ok {
		return nil, errors.New("the target refused the sftp subsystem")
	}
	c, err := sftp.NewClientPipe(s.ch, s.ch, sftp.UseConcurrentWrites(true))
	if err != nil {
		return nil, fmt.Errorf("start sftp on the target: %w", err)
	}
	return &remoteFS{c: c}, nil
}

func (s *remoteSession) close() error { return s.ch.Close() }

// eofWriter's Close sends EOF on a channel, keeping it open for output.
type eofWriter struct{ ch gossh.Channel }

func (w eofWriter) Write(p []byte) (int, error) { return w.ch.Write(p) }
func (w eofWriter) Close() error                { return w.ch.CloseWrite() }

// isClosed reports errors that just mean the other side went away.
func isClosed(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) ||
		strings.Contains(err.Error(), "use of closed") || strings.Contains(err.Error(), "EOF")
}
