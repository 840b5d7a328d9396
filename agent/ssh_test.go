package agent_test

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// TestSSHSessionThroughAgent runs an SSH session to the built-in target
// through a real agent: file activity arrives as "file" reports on the
// session stream, terminate shows a notice on the terminal, and the
// recording is asciicast.
func TestSSHSessionThroughAgent(t *testing.T) {
	srv := newServer(t)
	here, err := agent.ParseResourceURL("here", "ssh://builtin")
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, agent.Config{ControlAddr: srv.Addr(), Token: srv.Token(), DataDir: t.TempDir(), Name: "a1", Resources: []agent.ResourceConfig{here}})
	c := waitAgent(t, srv)
	const id = "0190a0b0-0000-7000-8000-0000000000aa"
	st, res, err := c.OpenSession(ctxT(t, 15*time.Second), api.SessionOpen{SessionID: id, Type: api.TypeSSH, Resource: "here", User: "alice"})
	if err != nil || !res.OK {
		t.Fatalf("open: %+v %v", res, err)
	}
	conn := openConn(t, c, id, 1)
	sc, chans, reqs, err := gossh.NewClientConn(conn, "here", &gossh.ClientConfig{User: "x", HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	client := gossh.NewClient(sc, chans, reqs)
	defer client.Close()

	fs, err := sftp.NewClient(client)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() + "/made"
	if err := fs.Mkdir(dir); err != nil {
		t.Fatal(err)
	}
	fs.Close()

	s, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	s.RequestPty("xterm", 24, 80, nil)
	var out lockedBuffer
	s.Stdout = &out
	in, _ := s.StdinPipe()
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(in, "echo agent-$((40+2))\n")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "agent-42") {
		if time.Now().After(deadline) {
			t.Fatalf("no shell output: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := st.Terminate("admin", "test"); err != nil {
		t.Fatal(err)
	}
	reports, err := st.Reports(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s.Wait()
	var file *api.FileEvent
	var ended bool
	for _, r := range reports {
		switch r.Type {
		case api.ReportFile:
			file = r.File
		case api.ReportEnded:
			ended = true
		}
	}
	if file == nil || file.Op != api.FileOpMkdir || file.Path != dir || file.SessionID != id || file.Result != "ok" || !ended {
		t.Fatalf("reports %+v (file %+v)", reports, file)
	}
	if !strings.Contains(out.String(), "session terminated by an administrator") {
		t.Errorf("terminal did not show the notice: %q", out.String())
	}
	rec, err := srv.WaitRecording(ctxT(t, 10*time.Second), id)
	if err != nil {
		t.Fatal(err)
	}
	var cast bytes.Buffer
	if rec.Format != api.FormatAsciicast {
		t.Fatalf("format %s", rec.Format)
	}
	if err := asciicast.Export(&cast, bytes.NewReader(innerOf(t, rec))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cast.String(), "agent-42") || !strings.Contains(cast.String(), "session terminated by an administrator") {
		t.Errorf("recording:\n%s", cast.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
