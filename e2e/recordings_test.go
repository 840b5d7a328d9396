package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// counterScript prints a numbered line with its wall-clock time (ns) every
// 10 ms, forever.
const counterScript = `i=0; while :; do echo "line $i $(date +%s%N)"; i=$((i+1)); sleep 0.01; done`

var counterLine = regexp.MustCompile(`line (\d+) (\d{19})`)

// counterLines reads a terminal recording (the inner stream from the API)
// and returns the counter lines it holds: number → time printed.
func counterLines(t testing.TB, w *sshWorld, id string) map[int]time.Time {
	t.Helper()
	rc, err := w.client(t).Recording(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rd, err := asciicast.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, asciicast.ErrTruncated) {
			break
		}
		if err != nil {
			t.Fatalf("recording of %s: %v", id, err)
		}
		if r.Type == asciicast.TypeOutput {
			out.Write(r.Data)
		}
	}
	lines := map[int]time.Time{}
	for _, l := range strings.Split(out.String(), "\n") {
		if m := counterLine.FindStringSubmatch(l); m != nil && strings.HasSuffix(strings.TrimRight(l, "\r"), m[2]) {
			n, _ := strconv.Atoi(m[1])
			ns, _ := strconv.ParseInt(m[2], 10, 64)
			lines[n] = time.Unix(0, ns)
		}
	}
	return lines
}

// checkCounter checks the recorded counter lines are 0..max without a
// hole and returns the time of the last one.
func checkCounter(t *testing.T, lines map[int]time.Time) (last int, at time.Time) {
	t.Helper()
	last = -1
	for n := range lines {
		last = max(last, n)
	}
	for i := 0; i <= last; i++ {
		if _, ok := lines[i]; !ok {
			t.Fatalf("recorded counter has a hole at line %d (last %d)", i, last)
		}
	}
	if last < 0 {
		t.Fatal("no counter line recorded")
	}
	return last, lines[last]
}

func waitRecordingFinal(t testing.TB, u *e2etest.User, id string, d time.Duration) api.Session {
	t.Helper()
	var s api.Session
	e2etest.WaitFor(t, d, "the recording of "+id+" uploaded", func() bool {
		s = session(t, u, id)
		return s.Recording.State == api.RecordingComplete || s.Recording.State == api.RecordingPartial
	})
	return s
}

func verifyJSON(t *testing.T, u *e2etest.User, id string) (api.RecordingVerification, int) {
	t.Helper()
	r := u.Run("sessions", "verify", id, "-o", "json")
	var v api.RecordingVerification
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("sessions verify -o json: %v\n%s\n%s", err, r.Stdout, r.Stderr)
	}
	return v, r.Code
}

// TestRecordingSurvivesAgentKill: kill -9 of the agent while a session
// prints a counter every 10 ms. The session ends failed ("agent lost");
// once the agent is back, the stored recording holds every line printed
// up to one second before the kill, its state is partial, and verify
// reports it intact but cut.
func TestRecordingSurvivesAgentKill(t *testing.T) {
	w := newSSHWorld(t)
	p := w.admin.Start("ssh-counter", "ssh", "web", "--", counterScript)
	p.WaitOutput(t, 90*time.Second, regexp.MustCompile(`line 100 `)) // a second of output; generous on a loaded machine
	id := w.newestSSH(t).ID

	killedAt := time.Now()
	w.agent.Signal(syscall.SIGKILL)
	if _, err := w.agent.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	s := waitStatus(t, w.admin, id, api.StatusFailed, 30*time.Second)
	if !strings.Contains(s.Error, "agent lost") {
		t.Fatalf("session failed with %q, want agent lost", s.Error)
	}
	p.Wait(20 * time.Second)

	w.ctl.RestartAgent(t, "ssh-agent", w.agent)
	if s := waitRecordingFinal(t, w.admin, id, 60*time.Second); s.Recording.State != api.RecordingPartial {
		t.Fatalf("recording of the killed agent's session is %q, want partial (cut short, unsigned)", s.Recording.State)
	}
	last, at := checkCounter(t, counterLines(t, w, id))
	lost := killedAt.Sub(at)
	t.Logf("recorded lines 0..%d; the last was printed %s before the kill", last, lost.Round(time.Millisecond))
	if lost > time.Second {
		t.Fatalf("the recording ends %s before the kill: more than the one-second window was lost", lost)
	}

	v, code := verifyJSON(t, w.admin, id)
	if code != 0 || v.Status != "cut" || !v.Intact || !strings.Contains(v.Message, "cut at frame") {
		t.Fatalf("verify after a kill: exit %d %+v", code, v)
	}
}

// TestRecordingSurvivesControlStop: control frozen (SIGSTOP) for 30 s
// during a session. Whatever happens to the session, once control is back
// the recording holds every line the client received.
func TestRecordingSurvivesControlStop(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 30 s")
	}
	w := newSSHWorld(t)
	p := w.admin.Start("ssh-counter", "ssh", "web", "--", counterScript)
	p.WaitOutput(t, 30*time.Second, regexp.MustCompile(`line 100 `))
	id := w.newestSSH(t).ID

	w.ctl.Signal(syscall.SIGSTOP)
	time.Sleep(30 * time.Second) // the outage being tested, not a wait for a condition
	w.ctl.Signal(syscall.SIGCONT)

	// The session may have failed during the outage; end it if not.
	p.Signal(syscall.SIGINT)
	p.Wait(30 * time.Second)
	waitRecordingFinal(t, w.admin, id, 90*time.Second)
	e2etest.WaitFor(t, 30*time.Second, "session "+id+" ended", func() bool { return session(t, w.admin, id).Status.Terminal() })
	s := waitRecordingFinal(t, w.admin, id, 60*time.Second)

	seen := map[int]bool{}
	for _, m := range counterLine.FindAllStringSubmatch(p.Output(), -1) {
		n, _ := strconv.Atoi(m[1])
		seen[n] = true
	}
	rec := counterLines(t, w, id)
	for n := range seen {
		if _, ok := rec[n]; !ok {
			t.Fatalf("line %d reached the client but is not in the recording (session %s, recording %+v)", n, s.Status, s.Recording)
		}
	}
	last, _ := checkCounter(t, rec)
	t.Logf("session %s (%s); client saw %d lines, recording holds 0..%d", s.Status, s.Error, len(seen), last)
}

// TestRecordingTamperAndExport: a complete recording verifies; export
// writes the .cast and the signed container; a byte flipped in storage is
// found and named.
func TestRecordingTamperAndExport(t *testing.T) {
	w := newSSHWorld(t)
	code, stderr := w.run(t, w.admin, nil, io.Discard, "ssh", "web", "--", "seq 1 20000")
	if code != 0 {
		t.Fatalf("ssh: exit %d %s", code, stderr)
	}
	id := w.newestSSH(t).ID
	w.waitRecorded(t, id)
	if v, code := verifyJSON(t, w.admin, id); code != 0 || v.Status != "ok" || !v.Intact {
		t.Fatalf("verify of a complete recording: exit %d %+v", code, v)
	}

	dir := t.TempDir()
	cast, raw := filepath.Join(dir, "s.cast"), filepath.Join(dir, "s.oprec")
	w.admin.MustRun("sessions", "export", id, "-o", cast)
	w.admin.MustRun("sessions", "export", id, "--format", "raw", "-o", raw)
	if out := castOutput(t, cast); !strings.HasSuffix(out, "19999\n20000\n") {
		t.Fatalf("exported .cast output ends %q", out[max(0, len(out)-40):])
	}
	stored := filepath.Join(w.ctl.DataDir, "recordings", id, "recording.oprec")
	orig, err := os.ReadFile(stored)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(raw); !bytes.Equal(got, orig) {
		t.Fatal("raw export differs from the stored container")
	}
	// Audit names who looked at which recording.
	audit := w.admin.MustRun("audit", "ls", "-o", "json")
	for _, action := range []string{"recording.verify", "recording.export"} {
		if !strings.Contains(audit, action) || !strings.Contains(audit, id) {
			t.Fatalf("audit log lacks %s of %s", action, id)
		}
	}

	flipped := bytes.Clone(orig)
	flipped[len(orig)/2] ^= 0x40
	if err := os.WriteFile(stored, flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	v, code := verifyJSON(t, w.admin, id)
	if code == 0 || v.Intact || v.Status != "tampered" || v.Frame < 0 || !strings.Contains(v.Message, fmt.Sprintf("frame %d", v.Frame)) {
		t.Fatalf("verify of a flipped byte: exit %d %+v", code, v)
	}
	r := w.admin.Run("sessions", "verify", id)
	if r.Code != 1 || !strings.Contains(r.Stdout, "NOT INTACT") || !strings.Contains(r.Stdout, "frame") {
		t.Fatalf("sessions verify: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("flipped byte found: %s", v.Message)
}

// newSpoolWorld is control, an sshd and an agent whose spool holds at
// most limit, in the given recording mode.
func newSpoolWorld(t *testing.T, mode, limit string) *sshWorld {
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
	w.agent = w.ctl.StartAgent(t, w.admin, "ssh-agent", fmt.Sprintf(`recording: %s
spool_limit: %s
resources:
  - name: web
    url: ssh://%s@127.0.0.1:%d?key=%s
    host_key: %q
`, mode, limit, sshd.User, sshd.Port, sshd.KeyFile, strings.TrimSpace(string(hostKey))))
	e2etest.WaitFor(t, 30*time.Second, "agent online", func() bool {
		var agents []api.Agent
		r := w.admin.Run("agents", "ls", "-o", "json")
		return r.Code == 0 && json.Unmarshal([]byte(r.Stdout), &agents) == nil && len(agents) == 1 && agents[0].Online
	})
	return w
}

// TestSpoolFull: a session whose recording outgrows the agent's spool
// limit ends failed under fail-closed, and goes on (gap reported to the
// audit log) under fail-open.
func TestSpoolFull(t *testing.T) {
	const flood = "head -c 3000000 /dev/urandom | base64; echo done-flooding"
	t.Run("fail-closed", func(t *testing.T) {
		w := newSpoolWorld(t, "fail-closed", "1200KiB")
		var out bytes.Buffer
		code, _ := w.run(t, w.admin, nil, &out, "ssh", "web", "--", flood)
		id := w.newestSSH(t).ID
		var s api.Session
		e2etest.WaitFor(t, 30*time.Second, "session "+id+" ended", func() bool {
			s = session(t, w.admin, id)
			return s.Status.Terminal()
		})
		if s.Status != api.StatusFailed || code == 0 || strings.Contains(out.String(), "done-flooding") || !strings.Contains(s.Error, "recording spool full") {
			t.Fatalf("fail-closed at the spool limit: exit %d, finished %v, session %s %q", code, strings.Contains(out.String(), "done-flooding"), s.Status, s.Error)
		}
		waitRecordingFinal(t, w.admin, id, 30*time.Second)
		if v, code := verifyJSON(t, w.admin, id); code != 0 || !v.Intact {
			t.Fatalf("verify of the recording kept: exit %d %+v", code, v)
		}
		t.Logf("session failed: %s", s.Error)
	})
	t.Run("fail-open", func(t *testing.T) {
		w := newSpoolWorld(t, "fail-open", "1200KiB")
		var out bytes.Buffer
		code, stderr := w.run(t, w.admin, nil, &out, "ssh", "web", "--", flood)
		if code != 0 || !strings.Contains(out.String(), "done-flooding") {
			t.Fatalf("fail-open at the spool limit: exit %d %s", code, stderr)
		}
		id := w.newestSSH(t).ID
		waitRecordingFinal(t, w.admin, id, 30*time.Second)
		var events []api.AuditEvent
		e2etest.WaitFor(t, 10*time.Second, "the recording.gap audit event", func() bool {
			events = nil
			json.Unmarshal([]byte(w.admin.MustRun("audit", "ls", "-o", "json", "--action", "recording.gap")), &events)
			return len(events) > 0
		})
		if events[0].Target != id || !strings.Contains(events[0].Detail, "spool") {
			t.Fatalf("gap event %+v", events[0])
		}
		if v, code := verifyJSON(t, w.admin, id); code != 0 || v.Status != "ok" {
			t.Fatalf("verify of the recording up to the gap: exit %d %+v", code, v)
		}
		t.Logf("gap: %s", events[0].Detail)
	})
}

// castOutput returns the output events of an asciicast v2 file, joined.
func castOutput(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := asciicast.NewDecoder(f)
	if err != nil {
		t.Fatalf("%s is not asciicast v2: %v", path, err)
	}
	var b strings.Builder
	for {
		e, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return b.String()
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if e.Code == "o" {
			b.WriteString(e.Data)
		}
	}
}
