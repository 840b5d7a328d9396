package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// sshWorld is control, an admin, a private OpenSSH sshd and an agent
// serving it as resource "web" (key login, pinned host key) and its
// built-in target as "shell".
type sshWorld struct {
	ctl   *e2etest.Control
	admin *e2etest.User
	sshd  *e2etest.SSHD
	agent *e2etest.Agent
	cli   string
	login string
}

func newSSHWorld(t testing.TB) *sshWorld {
	t.Helper()
	sshd := e2etest.StartSSHD(t)
	cli, _ := e2etest.Binaries(t)
	w := &sshWorld{sshd: sshd, cli: cli, login: sshd.User}
	w.ctl = e2etest.StartControl(t)
	w.admin = w.ctl.Admin(t)
	hostKey, err := os.ReadFile(filepath.Join(sshd.Dir, "host.pub"))
	if err != nil {
		t.Fatal(err)
	}
	w.agent = w.ctl.StartAgent(t, w.admin, "ssh-agent", fmt.Sprintf(`resources:
  - name: web
    url: ssh://%s@127.0.0.1:%d?key=%s
    host_key: %q
  - name: shell
    url: ssh://%s@builtin
`, sshd.User, sshd.Port, sshd.KeyFile, strings.TrimSpace(string(hostKey)), sshd.User))
	e2etest.WaitFor(t, 30*time.Second, "agent online", func() bool {
		var agents []api.Agent
		r := w.admin.Run("agents", "ls", "-o", "json")
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &agents) != nil {
			return false
		}
		for _, a := range agents {
			if a.Name == "ssh-agent" && a.Online && len(a.Resources) == 2 {
				return true
			}
		}
		return false
	})
	return w
}

// run runs onepam as u with stdin and stdout (either may be nil) and
// returns the exit code and standard error.
func (w *sshWorld) run(t testing.TB, u *e2etest.User, stdin io.Reader, stdout io.Writer, args ...string) (int, string) {
	t.Helper()
	return runProg(t, u.Env(), stdin, stdout, w.cli, args...)
}

func runProg(t testing.TB, env []string, stdin io.Reader, stdout io.Writer, prog string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	if stdout == nil {
		stdout = io.Discard
	}
	cmd.Stdout = stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatalf("%s %s: %v", prog, strings.Join(args, " "), err)
	}
	return 0, stderr.String()
}

// newestSSH returns the newest ssh session.
func (w *sshWorld) newestSSH(t testing.TB) api.Session {
	t.Helper()
	ss := sessions(t, w.admin, "--type", "ssh", "--limit", "1")
	if len(ss) == 0 {
		t.Fatal("no ssh session")
	}
	return ss[0]
}

// waitRecorded waits until session id ended and its recording is complete.
func (w *sshWorld) waitRecorded(t testing.TB, id string) api.Session {
	t.Helper()
	var s api.Session
	e2etest.WaitFor(t, 20*time.Second, "session "+id+" ended with a complete recording", func() bool {
		s = session(t, w.admin, id)
		return s.Status.Terminal() && s.Recording.State == api.RecordingComplete
	})
	return s
}

// client returns an API client logged in as the admin.
func (w *sshWorld) client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: w.ctl.URL(), Token: w.ctl.AdminToken, CAPin: w.ctl.CAPin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// exportCast reads a session's stored recording through the API and
// writes its asciicast v2 export; it returns the file's path.
func (w *sshWorld) exportCast(t testing.TB, id string) string {
	t.Helper()
	rc, err := w.client(t).Recording(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	path := filepath.Join(t.TempDir(), id+".cast")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := recordings.Export(api.FormatAsciicast, f, recordings.Inner(rc)); err != nil {
		t.Fatalf("export the recording of %s: %v", id, err)
	}
	return path
}

// asciinemaCat runs the real `asciinema cat` on a .cast file (under a
// pseudo-terminal, which it needs) and returns what it printed.
func asciinemaCat(t *testing.T, path string) []byte {
	t.Helper()
	requirePeer(t, "asciinema")
	requirePeer(t, "script")
	var out bytes.Buffer
	code, stderr := runProg(t, nil, strings.NewReader(""), &out, "script", "-qec", "asciinema cat "+path, "/dev/null")
	if code != 0 {
		t.Fatalf("asciinema cat %s: exit %d: %s\n%s", path, code, stderr, out.String())
	}
	return out.Bytes()
}

// castEvents decodes an exported .cast.
func castEvents(t testing.TB, path string) (asciicast.Header, []asciicast.Event) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := asciicast.NewDecoder(f)
	if err != nil {
		t.Fatal(err)
	}
	var evs []asciicast.Event
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			return dec.Header(), evs
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
}

// checkAsciinema checks that asciinema accepts a session's recording and
// prints exactly shown.
func (w *sshWorld) checkAsciinema(t *testing.T, id string, shown []byte) string {
	t.Helper()
	path := w.exportCast(t, id)
	got := asciinemaCat(t, path)
	if !bytes.Equal(got, shown) {
		t.Fatalf("asciinema cat of %s prints %d bytes, the session showed %d:\n%s", id, len(got), len(shown), firstDiff(got, shown))
	}
	return path
}

func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-40, 0)
	return fmt.Sprintf("first difference at byte %d:\n cat:   %q\n shown: %q", i, a[lo:min(i+40, len(a))], b[lo:min(i+40, len(b))])
}

// tmuxSSH runs `onepam ssh args` as u in a 100×30 tmux pane.
func (w *sshWorld) tmuxSSH(t testing.TB, u *e2etest.User, args ...string) *e2etest.Tmux {
	t.Helper()
	quoted := []string{shq(w.cli), "ssh"}
	for _, a := range args {
		quoted = append(quoted, shq(a))
	}
	return e2etest.StartTmux(t, 100, 30, append(u.Env(), "TERM=xterm-256color"), strings.Join(quoted, " "))
}

func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// prompt sets a known shell prompt ("ready> ") in an interactive session,
// once the remote shell shows its own prompt (keys typed earlier may be
// flushed by the shell's terminal setup, so it retries).
func prompt(t testing.TB, tm *e2etest.Tmux) {
	t.Helper()
	// 60 s: this machine's login shell runs `pyenv init`, whose rehash lock
	// makes a shell wait while another one starts.
	e2etest.WaitFor(t, 60*time.Second, "a shell prompt", func() bool {
		lines := strings.Split(strings.TrimRight(tm.Screen(), "\n "), "\n")
		last := strings.TrimSpace(lines[len(lines)-1])
		return strings.HasSuffix(last, "$") || strings.HasSuffix(last, "#")
	})
	for try := 0; ; try++ {
		tm.Type(`PS1='rea''dy> '`)
		tm.SendKeys("Enter")
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Contains(tm.Screen(), "ready>") {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		if try == 4 {
			t.Fatalf("the shell never took the prompt:\n%s", tm.Screen())
		}
	}
}

func TestSSHSessions(t *testing.T) {
	requirePeer(t, "ssh")
	w := newSSHWorld(t)
	target := w.login + "@web"

	var execID, interactiveID string
	var typedAt float64

	t.Run("exec output, exit status and the recording in asciinema", func(t *testing.T) {
		var out bytes.Buffer
		code, stderr := w.run(t, w.admin, nil, &out, "ssh", target, "--", `printf 'giraffe%s caf\303\251\n' 42; seq 1 500`)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.HasPrefix(out.String(), "giraffe42 café\n1\n2\n") || !strings.HasSuffix(out.String(), "\n500\n") {
			t.Fatalf("output %q", out.String())
		}
		s := w.waitRecorded(t, w.newestSSH(t).ID)
		execID = s.ID
		if s.Status != api.StatusCompleted || s.Login != w.login {
			t.Fatalf("session %+v", s)
		}
		path := w.checkAsciinema(t, s.ID, out.Bytes())
		h, _ := castEvents(t, path)
		if h.SessionID != s.ID || h.Resource != "web" || h.Login != w.login || h.Command == "" {
			t.Fatalf("cast header %+v", h)
		}

		code, _ = w.run(t, w.admin, nil, nil, "ssh", target, "--", "echo bye; exit 3")
		if code != 3 {
			t.Fatalf("remote exit 3 became %d", code)
		}
		code, _ = w.run(t, w.admin, nil, nil, "ssh", target, "--", "kill -TERM $$")
		if code != 128+15 {
			t.Fatalf("remote SIGTERM became %d, want 143", code)
		}
	})

	t.Run("100 MiB through stdin and back", func(t *testing.T) {
		const size = 100 << 20
		src := io.LimitReader(rand.NewChaCha8([32]byte{1}), size)
		in := sha256.New()
		out := sha256.New()
		counter := &countWriter{w: out}
		code, stderr := w.run(t, w.admin, io.TeeReader(src, in), counter, "ssh", target, "--", "cat")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if counter.n != size || !bytes.Equal(in.Sum(nil), out.Sum(nil)) {
			t.Fatalf("got %d bytes back, checksum equal: %v", counter.n, bytes.Equal(in.Sum(nil), out.Sum(nil)))
		}
		s := w.waitRecorded(t, w.newestSSH(t).ID)
		if s.BytesUp < size || s.BytesDown < size {
			t.Fatalf("byte counts up %d down %d", s.BytesUp, s.BytesDown)
		}
	})

	t.Run("interactive shell, full-screen program and resize under tmux", func(t *testing.T) {
		requirePeer(t, "vi")
		tm := w.tmuxSSH(t, w.admin, target)
		prompt(t, tm)
		s := w.newestSSH(t)
		interactiveID = s.ID
		tm.Type("echo hello-$((40+2)) typedword")
		sent := time.Now()
		tm.SendKeys("Enter")
		tm.WaitScreen(10*time.Second, "hello-42 typedword")
		typedAt = sent.Sub(*s.StartedAt).Seconds()

		tm.Type("vi -u NONE /nonexistent-onepam-file")
		tm.SendKeys("Enter")
		tm.WaitScreen(10*time.Second, "\n~\n") // vi's empty-line marks: full-screen output
		tm.Type(":q!")
		tm.SendKeys("Enter")
		tm.WaitScreen(10*time.Second, "ready>")

		tm.Resize(120, 40)
		tm.Type("stty size")
		tm.SendKeys("Enter")
		tm.WaitScreen(10*time.Second, "40 120")
		tm.Type("exit")
		tm.SendKeys("Enter")
		if code := tm.ExitCode(20 * time.Second); code != 0 {
			t.Fatalf("onepam ssh exited %d:\n%s", code, tm.Screen())
		}
		s = w.waitRecorded(t, s.ID)
		if s.Status != api.StatusCompleted {
			t.Fatalf("status %s", s.Status)
		}
		path := w.checkAsciinema(t, s.ID, tm.RawOutput())
		h, evs := castEvents(t, path)
		if h.Width != 100 || h.Height != 30 {
			t.Fatalf("recorded size %dx%d", h.Width, h.Height)
		}
		var resized, typed bool
		for _, ev := range evs {
			resized = resized || (ev.Code == "r" && ev.Data == "120x40")
			typed = typed || (ev.Code == "i" && strings.Contains(ev.Data, "typedword"))
		}
		if !resized || !typed {
			t.Fatalf("recording has resize %v, typed input %v", resized, typed)
		}
	})

	t.Run("replay in tmux shows the recorded screen", func(t *testing.T) {
		if interactiveID == "" {
			t.Fatal("no interactive recording: the interactive subtest above failed")
		}
		quoted := strings.Join([]string{shq(w.cli), "sessions", "replay", interactiveID, "--idle-limit", "50ms", "--speed", "4"}, " ")
		tm := e2etest.StartTmux(t, 100, 30, append(w.admin.Env(), "TERM=xterm-256color"), quoted)
		screen := tm.WaitScreen(30*time.Second, "40 120")
		for _, want := range []string{"ready> echo hello-$((40+2)) typedword", "hello-42 typedword", "ready> stty size"} {
			if !strings.Contains(screen, want) {
				t.Fatalf("replay screen lacks %q:\n%s", want, screen)
			}
		}
		if code := tm.ExitCode(20 * time.Second); code != 0 {
			t.Fatalf("replay exited %d", code)
		}
		// Not on a terminal: the text, for grep.
		out := w.admin.MustRun("sessions", "replay", interactiveID)
		if !strings.Contains(out, "hello-42 typedword\n") {
			t.Fatalf("replay text:\n%s", out)
		}
		in := w.admin.MustRun("sessions", "replay", interactiveID, "--input")
		if !strings.Contains(in, "echo hello-$((40+2)) typedword") {
			t.Fatalf("replay --input:\n%s", in)
		}
	})

	t.Run("search finds typed and printed words with their offsets", func(t *testing.T) {
		if execID == "" || interactiveID == "" {
			t.Fatal("needs the exec and interactive sessions of the subtests above, which failed")
		}
		var hits []api.SearchHit
		search := func(args ...string) bool {
			out := w.admin.MustRun(append([]string{"sessions", "search", "-o", "json"}, args...)...)
			hits = nil
			return json.Unmarshal([]byte(out), &hits) == nil && len(hits) > 0
		}
		e2etest.WaitFor(t, 20*time.Second, "printed word indexed", func() bool { return search("giraffe42", "--type", "ssh") })
		_, evs := castEvents(t, w.exportCast(t, execID))
		if hits[0].SessionID != execID || math.Abs(hits[0].OffsetSeconds-firstOutput(evs, "giraffe")) > 0.002 || hits[0].Line != "giraffe42 café" {
			t.Fatalf("hit %+v, want session %s at %.3f", hits[0], execID, firstOutput(evs, "giraffe"))
		}
		e2etest.WaitFor(t, 20*time.Second, "typed word indexed", func() bool { return search("typedword", "--input") })
		_, evs = castEvents(t, w.exportCast(t, interactiveID))
		at := firstInput(evs, "echo hello")
		if hits[0].SessionID != interactiveID || math.Abs(hits[0].OffsetSeconds-at) > 0.002 || math.Abs(at-typedAt) > 2 {
			t.Fatalf("hit %+v, want session %s at %.3f (typed about %.3f)", hits[0], interactiveID, at, typedAt)
		}
		if search("typedword", "--type", "tcp", "--input") {
			t.Fatalf("--type tcp found ssh hits: %+v", hits)
		}
		table := w.admin.MustRun("sessions", "search", "typedword", "--input")
		if !strings.Contains(table, interactiveID) || !strings.Contains(table, "SESSION") {
			t.Fatalf("search table:\n%s", table)
		}
	})

	t.Run("kill shows the notice on the terminal and exits 7", func(t *testing.T) {
		tm := w.tmuxSSH(t, w.admin, target)
		prompt(t, tm)
		s := w.newestSSH(t)
		tm.Type("echo before-kill")
		tm.SendKeys("Enter")
		tm.WaitScreen(10*time.Second, "\nbefore-kill")
		w.admin.MustRun("sessions", "kill", s.ID, "--reason", "e2e kill")
		screen := tm.WaitScreen(10*time.Second, "session terminated by an administrator")
		if code := tm.ExitCode(10 * time.Second); code != 7 {
			t.Fatalf("onepam ssh exited %d after kill, want 7:\n%s", code, screen)
		}
		s = w.waitRecorded(t, s.ID)
		if s.Status != api.StatusTerminated || s.TerminatedBy != "admin" || s.TerminateReason != "e2e kill" {
			t.Fatalf("session %+v", s)
		}
		_, evs := castEvents(t, w.exportCast(t, s.ID))
		var out strings.Builder
		for _, ev := range evs {
			if ev.Code == "o" {
				out.WriteString(ev.Data)
			}
		}
		if !strings.Contains(out.String(), "before-kill") || !strings.Contains(out.String(), "session terminated by an administrator") {
			t.Fatalf("the recording lacks the output before the kill or the notice:\n%q", out.String())
		}
	})

	t.Run("watch from the start and live, two processes", func(t *testing.T) {
		auditor := w.ctl.AddUser(t, w.admin, "audrey", "auditor")
		tm := w.tmuxSSH(t, w.admin, target)
		prompt(t, tm)
		s := w.newestSSH(t)
		tm.Type("echo before-watch-$((1+1))")
		tm.SendKeys("Enter")
		tm.WaitScreen(10*time.Second, "before-watch-2")

		full := auditor.Start("watch", "sessions", "watch", s.ID)
		// Once the full watcher shows it, control has stored it: a live
		// watcher started now must not show it.
		full.WaitOutput(t, 15*time.Second, regexpQuote("before-watch-2"))
		live := w.admin.Start("watch-live", "sessions", "watch", s.ID, "--live")
		e2etest.WaitFor(t, 10*time.Second, "the live watch to start", func() bool {
			return strings.Contains(w.admin.MustRun("audit", "ls", "-o", "json"), `"session.watch"`)
		})
		tm.Type("echo during-watch-$((6*7))")
		tm.SendKeys("Enter")
		full.WaitOutput(t, 15*time.Second, regexpQuote("during-watch-42"))
		live.WaitOutput(t, 15*time.Second, regexpQuote("during-watch-42"))
		if strings.Contains(live.Output(), "before-watch-2") {
			t.Fatalf("--live showed what came before:\n%s", live.Output())
		}
		tm.Type("exit")
		tm.SendKeys("Enter")
		for _, p := range []*e2etest.Proc{full, live} {
			if code, err := p.Wait(20 * time.Second); err != nil || code != 0 {
				t.Fatalf("%s: exit %d %v:\n%s", p.Name, code, err, p.Output())
			}
			if !strings.Contains(p.Output(), "session ended: completed") {
				t.Fatalf("%s did not say how the session ended:\n%s", p.Name, p.Output())
			}
		}
		user := w.ctl.AddUser(t, w.admin, "ursula", "user")
		if r := user.Run("sessions", "watch", s.ID); r.Code == 0 {
			t.Fatalf("a user watched a session:\n%s", r.Stdout)
		}
	})

	t.Run("OpenSSH ssh, sftp and scp through onepam proxy ssh", func(t *testing.T) {
		requirePeer(t, "sftp")
		requirePeer(t, "scp")
		dir := t.TempDir()
		sshConfig := filepath.Join(dir, "ssh_config")
		block := w.admin.MustRun("config", "ssh")
		if err := os.WriteFile(sshConfig, []byte(block+"    BatchMode yes\n    LogLevel ERROR\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := w.admin.Env()
		host := w.login + "@web.onepam"
		var out bytes.Buffer
		if code, stderr := runProg(t, env, nil, &out, "ssh", "-F", sshConfig, host, "echo via-config-$((2*21))"); code != 0 || out.String() != "via-config-42\n" {
			t.Fatalf("ssh via the config block: exit %d %q %s", code, out.String(), stderr)
		}
		out.Reset()
		pc := fmt.Sprintf("%s --config %s proxy ssh %%h --login %%r", w.cli, w.admin.Config)
		if code, stderr := runProg(t, env, nil, &out, "ssh", "-F", "/dev/null", "-o", "ProxyCommand="+pc, "-o", "BatchMode=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", w.login+"@web", "echo via-proxycommand"); code != 0 || out.String() != "via-proxycommand\n" {
			t.Fatalf("ssh -o ProxyCommand: exit %d %q %s", code, out.String(), stderr)
		}

		local := filepath.Join(dir, "local")
		remote := filepath.Join(dir, "remote")
		for _, d := range []string{local, remote} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		payload := bytes.Repeat([]byte("onepam sftp "), 50_000) // 600,000 bytes
		if err := os.WriteFile(filepath.Join(local, "up.bin"), payload, 0o600); err != nil {
			t.Fatal(err)
		}
		n := int64(len(payload))
		rd := filepath.Join(remote, "d")
		batch := fmt.Sprintf("mkdir %[1]s\nput %[2]s %[1]s/up.bin\nget %[1]s/up.bin %[3]s\nrename %[1]s/up.bin %[1]s/moved.bin\nrm %[1]s/moved.bin\nrmdir %[1]s\n",
			rd, filepath.Join(local, "up.bin"), filepath.Join(local, "down.bin"))
		batchFile := filepath.Join(dir, "batch")
		os.WriteFile(batchFile, []byte(batch), 0o600)
		if code, stderr := runProg(t, env, nil, nil, "sftp", "-F", sshConfig, "-b", batchFile, host); code != 0 {
			t.Fatalf("sftp -b: exit %d: %s", code, stderr)
		}
		if got, _ := os.ReadFile(filepath.Join(local, "down.bin")); !bytes.Equal(got, payload) {
			t.Fatal("sftp get brought different bytes")
		}
		sftpID := w.waitRecorded(t, w.newestSSH(t).ID).ID
		checkFiles(t, w, sftpID, []api.FileEvent{
			{Op: api.FileOpMkdir, Path: rd},
			{Op: api.FileOpUpload, Path: rd + "/up.bin", Bytes: n},
			{Op: api.FileOpDownload, Path: rd + "/up.bin", Bytes: n},
			{Op: api.FileOpRename, Path: rd + "/up.bin", Path2: rd + "/moved.bin"},
			{Op: api.FileOpDelete, Path: rd + "/moved.bin"},
			{Op: api.FileOpRmdir, Path: rd},
		})

		for _, mode := range []struct {
			name, proto string
			flags       []string
		}{{"scp (SFTP mode)", "sftp", nil}, {"scp -O", "scp", []string{"-O"}}} {
			up := filepath.Join(remote, mode.proto+"-up.bin")
			args := append(append([]string{"-F", sshConfig}, mode.flags...), filepath.Join(local, "up.bin"), host+":"+up)
			if code, stderr := runProg(t, env, nil, nil, "scp", args...); code != 0 {
				t.Fatalf("%s upload: exit %d: %s", mode.name, code, stderr)
			}
			upID := w.waitRecorded(t, w.newestSSH(t).ID).ID
			checkFiles(t, w, upID, []api.FileEvent{{Protocol: mode.proto, Op: api.FileOpUpload, Path: up, Bytes: n}})
			down := filepath.Join(local, mode.proto+"-down.bin")
			args = append(append([]string{"-F", sshConfig}, mode.flags...), host+":"+up, down)
			if code, stderr := runProg(t, env, nil, nil, "scp", args...); code != 0 {
				t.Fatalf("%s download: exit %d: %s", mode.name, code, stderr)
			}
			downID := w.waitRecorded(t, w.newestSSH(t).ID).ID
			checkFiles(t, w, downID, []api.FileEvent{{Protocol: mode.proto, Op: api.FileOpDownload, Path: up, Bytes: n}})
			if got, _ := os.ReadFile(down); !bytes.Equal(got, payload) {
				t.Fatalf("%s download brought different bytes", mode.name)
			}
		}
		table := w.admin.MustRun("sessions", "files", sftpID, "--op", "upload,download")
		if !strings.Contains(table, "upload") || !strings.Contains(table, fmt.Sprint(n)) || strings.Contains(table, "rmdir") {
			t.Fatalf("sessions files --op upload,download:\n%s", table)
		}
		show := w.admin.MustRun("sessions", "show", sftpID)
		if !strings.Contains(show, "File activity") || !strings.Contains(show, rd+"/moved.bin") {
			t.Fatalf("sessions show lacks the file activity:\n%s", show)
		}
	})

	t.Run("built-in target", func(t *testing.T) {
		var out bytes.Buffer
		code, stderr := w.run(t, w.admin, nil, &out, "ssh", "shell", "--", "echo builtin-$((20+22))")
		if code != 0 || out.String() != "builtin-42\n" {
			t.Fatalf("exit %d %q %s", code, out.String(), stderr)
		}
		w.checkAsciinema(t, w.waitRecorded(t, w.newestSSH(t).ID).ID, out.Bytes())
	})
}

// checkFiles checks that every wanted event appears (in order) among the
// session's file events with the same op, path, path2 and bytes (and
// protocol, when given), each with result ok.
func checkFiles(t *testing.T, w *sshWorld, id string, want []api.FileEvent) {
	t.Helper()
	var got []api.FileEvent
	if err := json.Unmarshal([]byte(w.admin.MustRun("sessions", "files", id, "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, g := range got {
		if i == len(want) {
			break
		}
		wn := want[i]
		if g.Op == wn.Op && g.Path == wn.Path && g.Path2 == wn.Path2 && g.Bytes == wn.Bytes && g.Result == "ok" && (wn.Protocol == "" || g.Protocol == wn.Protocol) {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("session %s: file event %+v missing (in order) from:\n%+v", id, want[i], got)
	}
}

func firstOutput(evs []asciicast.Event, sub string) float64 {
	for _, ev := range evs {
		if ev.Code == "o" && strings.Contains(ev.Data, sub) {
			return ev.Time
		}
	}
	return -1
}

func firstInput(evs []asciicast.Event, prefix string) float64 {
	for _, ev := range evs {
		if ev.Code == "i" && strings.Contains(ev.Data, prefix) {
			return ev.Time
		}
	}
	return -1
}

func regexpQuote(s string) *regexp.Regexp { return regexp.MustCompile(regexp.QuoteMeta(s)) }

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}
