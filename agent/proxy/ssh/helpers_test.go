package ssh

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/ssh/sshtest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// bufRecorder keeps a recording in memory (or only counts it).
type bufRecorder struct {
	mu      sync.Mutex
	b       bytes.Buffer
	discard bool
	n       int64
	final   bool
}

func (r *bufRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n += int64(len(p))
	if !r.discard {
		r.b.Write(p)
	}
	return len(p), nil
}

func (r *bufRecorder) Finalize(bool) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.final = true
	return r.n, nil
}

func (r *bufRecorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.b.Bytes()...)
}

// harness runs one proxy session the way the agent does, with conn
// streams on loopback TCP.
type harness struct {
	tb     testing.TB
	sess   proxy.Session
	rec    *bufRecorder
	open   api.SessionOpen
	l      net.Listener
	connID atomic.Int64

	mu     sync.Mutex
	files  []api.FileEvent
	failed []error
}

type harnessOpts struct {
	login       string
	address     string
	discardRec  bool
	hostKeyFile string
}

// openSession opens a proxy session to tc.
func openSession(tb testing.TB, tc *TargetConfig, o harnessOpts) (*harness, error) {
	tb.Helper()
	h := &harness{tb: tb, rec: &bufRecorder{discard: o.discardRec}}
	h.open = api.SessionOpen{SessionID: "0190a0b0-0000-7000-8000-000000000001", Type: api.TypeSSH, Resource: "srv", Login: o.login, User: "alice", CreatedAt: time.Now()}
	info := &proxy.SessionInfo{
		Open:     h.open,
		Target:   proxy.Target{Name: "srv", Type: api.TypeSSH, Address: o.address, Options: tc},
		Recorder: h.rec,
		Logger:   slog.New(slog.DiscardHandler),
		Clock:    time.Now,
		Dial:     (&net.Dialer{}).DialContext,
		Fail: func(err error) {
			h.mu.Lock()
			h.failed = append(h.failed, err)
			h.mu.Unlock()
		},
		Report: func(r api.SessionReport) {
			if r.Type == api.ReportFile && r.File != nil {
				h.mu.Lock()
				h.files = append(h.files, *r.File)
				h.mu.Unlock()
			}
		},
	}
	p := New(Config{HostKeyFile: o.hostKeyFile})
	s, err := p.Open(context.Background(), info)
	if err != nil {
		return nil, err
	}
	h.sess = s
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h.l = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s.ServeConn(context.Background(), c, api.ConnOpen{SessionID: h.open.SessionID, ConnID: h.connID.Add(1), ClientAddr: c.RemoteAddr().String()})
			}()
		}
	}()
	tb.Cleanup(func() { l.Close(); s.Close() })
	return h, nil
}

// mustOpen is openSession that fails the test on error.
func mustOpen(tb testing.TB, tc *TargetConfig, o harnessOpts) *harness {
	tb.Helper()
	h, err := openSession(tb, tc, o)
	if err != nil {
		tb.Fatalf("open session: %v", err)
	}
	return h
}

// dial opens a conn stream and reads its ConnOpenResult.
func (h *harness) dial() net.Conn {
	h.tb.Helper()
	c, err := net.Dial("tcp", h.l.Addr().String())
	if err != nil {
		h.tb.Fatal(err)
	}
	var res api.ConnOpenResult
	if err := tunnel.ReadFrame(c, &res); err != nil || !res.OK {
		h.tb.Fatalf("conn open: %+v %v", res, err)
	}
	return c
}

// client is an x/crypto SSH client through the proxy.
func (h *harness) client() *gossh.Client {
	h.tb.Helper()
	c := h.dial()
	sc, chans, reqs, err := gossh.NewClientConn(c, "proxy", &gossh.ClientConfig{
		User:            "ignored",
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
	})
	if err != nil {
		h.tb.Fatalf("ssh to the proxy: %v", err)
	}
	cl := gossh.NewClient(sc, chans, reqs)
	h.tb.Cleanup(func() { cl.Close() })
	return cl
}

// listen returns a loopback port where OpenSSH clients reach the proxy:
// each TCP connection becomes a conn stream.
func (h *harness) listen() int {
	h.tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.tb.Fatal(err)
	}
	h.tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				x := h.dial()
				defer x.Close()
				go func() { io.Copy(x, c); x.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, x)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// events returns the file events reported so far.
func (h *harness) events() []api.FileEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]api.FileEvent(nil), h.files...)
}

// waitEvent polls for a reported event matching want's non-zero fields
// (Bytes -1 means any).
func (h *harness) waitEvent(want api.FileEvent) api.FileEvent {
	h.tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, ev := range h.events() {
			if ev.Op == want.Op && ev.Path == want.Path && (want.Path2 == "" || ev.Path2 == want.Path2) &&
				(want.Bytes < 0 || ev.Bytes == want.Bytes) && (want.Result == "" || ev.Result == want.Result) &&
				(want.Protocol == "" || ev.Protocol == want.Protocol) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			h.tb.Fatalf("no event like %+v; got:\n%s", want, fmtEvents(h.events()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fmtEvents(evs []api.FileEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s %s %q %q bytes=%d %s %s\n", e.Protocol, e.Op, e.Path, e.Path2, e.Bytes, e.Result, e.Error)
	}
	return b.String()
}

// castEvent is one asciicast v2 event.
type castEvent struct {
	t    float64
	code string
	data string
}

// cast closes the session and exports its recording to asciicast v2.
func (h *harness) cast() (map[string]any, []castEvent) {
	h.tb.Helper()
	if err := h.sess.Close(); err != nil {
		h.tb.Fatalf("close: %v", err)
	}
	var out bytes.Buffer
	if err := asciicast.Export(&out, bytes.NewReader(h.rec.bytes())); err != nil {
		h.tb.Fatalf("export recording: %v", err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	var hdr map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil {
		h.tb.Fatalf("header %q: %v", lines[0], err)
	}
	var evs []castEvent
	for _, l := range lines[1:] {
		var raw []any
		if err := json.Unmarshal([]byte(l), &raw); err != nil || len(raw) != 3 {
			h.tb.Fatalf("event %q: %v", l, err)
		}
		evs = append(evs, castEvent{t: raw[0].(float64), code: raw[1].(string), data: raw[2].(string)})
	}
	return hdr, evs
}

// joined concatenates the data of events of one code.
func joined(evs []castEvent, code string) string {
	var b strings.Builder
	for _, e := range evs {
		if e.code == code {
			b.WriteString(e.data)
		}
	}
	return b.String()
}

// waitFor polls cond until it holds.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// remoteTarget is the sshd target config with the key login.
func remoteTarget(d *sshtest.SSHD) *TargetConfig {
	return &TargetConfig{Logins: map[string]LoginConfig{d.User: {KeyFile: d.KeyFile}}, KnownHosts: d.KnownHosts}
}

// openssh runs an OpenSSH client tool against the proxy on port.
func openssh(tb testing.TB, tool string, port int, args ...string) string {
	tb.Helper()
	portFlag := "-p"
	if tool != "ssh" {
		portFlag = "-P"
	}
	base := []string{"-F", "/dev/null", portFlag, fmt.Sprint(port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"}
	cmd := exec.Command(tool, append(base, args...)...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}
