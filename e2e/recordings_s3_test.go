package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to age a session

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
)

// s3Server is an S3-compatible server (gofakes3, in memory) on a loopback
// HTTPS port, with a client of its own to look into the bucket, and a log
// of the multipart part uploads it received.
type s3Server struct {
	srv    *httptest.Server
	client *minio.Core
	bucket string
	caFile string

	mu    sync.Mutex
	parts []string // "key partNumber" of every part upload, in order
}

const (
	s3AccessKey = "onepam-test"
	s3SecretKey = "onepam-test-secret"
)

func startS3(t *testing.T) *s3Server {
	t.Helper()
	s := &s3Server{bucket: "recordings"}
	backend := s3mem.New()
	if err := backend.CreateBucket(s.bucket); err != nil {
		t.Fatal(err)
	}
	fake := gofakes3.New(backend).Server()
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method == http.MethodPut && q.Get("uploadId") != "" && q.Get("partNumber") != "" {
			s.mu.Lock()
			s.parts = append(s.parts, strings.TrimPrefix(r.URL.Path, "/"+s.bucket+"/")+" "+q.Get("partNumber"))
			s.mu.Unlock()
		}
		fake.ServeHTTP(w, r)
	}))
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	s.caFile = filepath.Join(t.TempDir(), "s3-ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(s.caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	s.client, err = minio.NewCore(s.endpoint(), &minio.Options{
		Creds: credentials.NewStaticV4(s3AccessKey, s3SecretKey, ""), Secure: true,
		BucketLookup: minio.BucketLookupPath, Transport: s.srv.Client().Transport, Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *s3Server) endpoint() string { return s.srv.Listener.Addr().String() }

// flags are the `onepam settings recording-storage set|test` flags for
// this server (the secret key comes from secretFile).
func (s *s3Server) flags(prefix, secretFile string) []string {
	return []string{"--kind", "s3", "--endpoint", s.endpoint(), "--bucket", s.bucket, "--region", "us-east-1",
		"--prefix", prefix, "--access-key", s3AccessKey, "--secret-key-file", secretFile, "--path-style", "--ca-file", s.caFile}
}

// partsOf returns the part numbers uploaded for key so far.
func (s *s3Server) partsOf(key string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, p := range s.parts {
		if k, n, _ := strings.Cut(p, " "); k == key {
			out = append(out, n)
		}
	}
	return out
}

// keys lists the object keys under prefix.
func (s *s3Server) keys(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	for o := range s.client.Client.ListObjects(context.Background(), s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list s3://%s/%s: %v", s.bucket, prefix, o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

// object reads an object whole.
func (s *s3Server) object(t *testing.T, key string) []byte {
	t.Helper()
	rc, _, _, err := s.client.GetObject(context.Background(), s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", s.bucket, key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lockedBuffer is a bytes.Buffer written by a child process while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// s3Flood prints 16 × 750 000 random bytes in base64 (16.2 MB) in
// bursts, then waits until the file named by its argument exists: the
// recording outgrows one multipart part (8 MiB) while the session runs.
const s3Flood = `for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do head -c 750000 /dev/urandom | base64; sleep 0.05; done; echo flood-done; while [ ! -e %s ]; do sleep 0.05; done; echo bye`

// TestRecordingsS3: recordings stored in an S3-compatible bucket (gofakes3
// over HTTPS in this process, reached by control through minio-go with the
// CA given by --ca-file), end to end with the real binaries. The storage
// is tested and set with the CLI; an SSH session's recording goes up in
// multipart parts while the session runs; replay, export and verify read
// back exactly what the client received and the stored object; switching
// back to the directory (and restarting control) keeps it readable; the
// retention job deletes the object and the session shows the notice.
func TestRecordingsS3(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 16 MB through an SSH session")
	}
	s3 := startS3(t)
	t.Setenv("ONEPAM_RETENTION_INTERVAL", "200ms") // read by control serve
	w := newSSHWorld(t)
	const prefix = "onepam/rec"
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(s3SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Test, then set the storage.
	r := w.admin.Run(append([]string{"settings", "recording-storage", "test"}, s3.flags(prefix, secret)...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "wrote, read back and deleted a probe object") {
		t.Fatalf("recording-storage test: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	bad := w.admin.Run("settings", "recording-storage", "test", "--endpoint", s3.endpoint(), "--bucket", "no-such-bucket",
		"--access-key", s3AccessKey, "--secret-key-file", secret, "--path-style", "--ca-file", s3.caFile)
	if bad.Code != 1 || !strings.Contains(bad.Stdout, "write: FAILED") {
		t.Fatalf("recording-storage test of a missing bucket: exit %d\n%s%s", bad.Code, bad.Stdout, bad.Stderr)
	}
	out := w.admin.MustRun(append([]string{"settings", "recording-storage", "set"}, s3.flags(prefix, secret)...)...)
	if !strings.Contains(out, "recording storage: s3") || strings.Contains(out, s3SecretKey) {
		t.Fatalf("recording-storage set printed:\n%s", out)
	}
	if out := w.admin.MustRun("settings", "recording-storage", "test"); !strings.Contains(out, "s3://recordings/") {
		t.Fatalf("recording-storage test of the storage in force:\n%s", out)
	}

	// A session whose recording outgrows a part while it runs.
	goFile := filepath.Join(t.TempDir(), "go")
	var shown lockedBuffer
	cmd := exec.Command(w.cli, "ssh", "web", "--", fmt.Sprintf(s3Flood, goFile))
	cmd.Env = append(os.Environ(), w.admin.Env()...)
	cmd.Stdout = &shown
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
	})
	e2etest.WaitFor(t, 60*time.Second, "the flood to reach the client", func() bool {
		return bytes.Contains(shown.Bytes(), []byte("flood-done\n"))
	})
	id := w.newestSSH(t).ID
	key := prefix + "/" + id + "/recording.oprec"
	e2etest.WaitFor(t, 60*time.Second, "a multipart part of "+key+" uploaded", func() bool { return len(s3.partsOf(key)) > 0 })
	if s := session(t, w.admin, id); s.Status != api.StatusActive {
		t.Fatalf("session %s is %s when its first part is in the bucket, want active", id, s.Status)
	}
	uploads, err := s3.client.ListMultipartUploads(context.Background(), s3.bucket, key, "", "", "", 10)
	if err != nil || len(uploads.Uploads) != 1 || uploads.Uploads[0].Key != key {
		t.Fatalf("multipart uploads under %s while the session runs: %+v %v", key, uploads.Uploads, err)
	}
	parts, err := s3.client.ListObjectParts(context.Background(), s3.bucket, key, uploads.Uploads[0].UploadID, 0, 100)
	if err != nil || len(parts.ObjectParts) == 0 || parts.ObjectParts[0].Size < 5<<20 {
		t.Fatalf("parts of %s while the session runs: %+v %v", key, parts.ObjectParts, err)
	}
	t.Logf("while the session runs: %d part(s) of %s in the bucket, the first %d bytes", len(parts.ObjectParts), key, parts.ObjectParts[0].Size)

	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("onepam ssh: %v\n%s", err, stderr.Bytes())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("onepam ssh did not end after its input")
	}
	client := shown.Bytes()
	if !bytes.HasSuffix(client, []byte("flood-done\nbye\n")) || len(client) < 16_000_000 {
		t.Fatalf("the client received %d bytes ending %q", len(client), client[max(0, len(client)-40):])
	}
	s := w.waitRecorded(t, id)

	// The object, and nothing else, is in the bucket under the session id;
	// the staging copy is gone.
	if keys := s3.keys(t, prefix+"/"+id+"/"); len(keys) != 1 || keys[0] != key {
		t.Fatalf("objects under %s/%s/: %v", prefix, id, keys)
	}
	if _, err := os.Stat(filepath.Join(w.ctl.DataDir, "recordings", id)); !os.IsNotExist(err) {
		t.Fatalf("the S3 recording is also in the directory store: %v", err)
	}
	staged, _ := filepath.Glob(filepath.Join(w.ctl.DataDir, "recordings", ".s3-staging", id+"*"))
	if len(staged) != 0 {
		t.Fatalf("staging files left after the upload: %v", staged)
	}
	stored := s3.object(t, key)
	t.Logf("session %s: client received %d bytes, object holds %d bytes in %d part(s)", id, len(client), len(stored), len(s3.partsOf(key)))

	// Replay, export and verify read back exactly what was received and stored.
	checkS3Reads := func(t *testing.T, when string) {
		t.Helper()
		dir := t.TempDir()
		raw, cast := filepath.Join(dir, "r.oprec"), filepath.Join(dir, "r.cast")
		w.admin.MustRun("sessions", "export", id, "--format", "raw", "-o", raw)
		if got, _ := os.ReadFile(raw); !bytes.Equal(got, stored) {
			t.Fatalf("%s: raw export (%d bytes) differs from the object in the bucket (%d bytes)", when, len(got), len(stored))
		}
		w.admin.MustRun("sessions", "export", id, "-o", cast)
		if got := castOutput(t, cast); got != string(client) {
			t.Fatalf("%s: exported .cast output (%d bytes) differs from what the client received (%d bytes) at %s", when, len(got), len(client), firstDiff([]byte(got), client))
		}
		if got := w.admin.MustRun("sessions", "replay", id); got != string(client) {
			t.Fatalf("%s: replay (%d bytes) differs from what the client received (%d bytes) at %s", when, len(got), len(client), firstDiff([]byte(got), client))
		}
		if v, code := verifyJSON(t, w.admin, id); code != 0 || v.Status != "ok" || !v.Intact {
			t.Fatalf("%s: verify: exit %d %+v", when, code, v)
		}
	}
	start := time.Now()
	checkS3Reads(t, "from the bucket")
	t.Logf("replay, export and verify from the bucket: %s", time.Since(start).Round(time.Millisecond))

	// Back to the directory: new recordings go there, the S3 one stays
	// readable, also after control restarts.
	if out := w.admin.MustRun("settings", "recording-storage", "set", "--kind", "dir"); !strings.Contains(out, "recording storage: dir") {
		t.Fatalf("recording-storage set --kind dir printed:\n%s", out)
	}
	if code, errOut := w.run(t, w.admin, nil, nil, "ssh", "web", "--", "echo in-the-directory"); code != 0 {
		t.Fatalf("ssh after switching to dir: exit %d %s", code, errOut)
	}
	id2 := w.newestSSH(t).ID
	w.waitRecorded(t, id2)
	if _, err := os.Stat(filepath.Join(w.ctl.DataDir, "recordings", id2, "recording.oprec")); err != nil {
		t.Fatalf("the recording made after switching to dir is not in the directory: %v", err)
	}
	if keys := s3.keys(t, prefix+"/"+id2+"/"); len(keys) != 0 {
		t.Fatalf("the recording made after switching to dir is in the bucket: %v", keys)
	}
	w.ctl.Signal(syscall.SIGTERM)
	if _, err := w.ctl.Wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	w.ctl.Restart()
	start = time.Now()
	checkS3Reads(t, "after switching to dir and restarting control")
	t.Logf("replay, export and verify after switching to dir and restarting control: %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()

	// Retention: a 2-day retention and a session that ended 3 days ago.
	if out := w.admin.MustRun("settings", "retention", "set", "--plan", "team", "--days", "2"); !strings.Contains(out, "kept 2 days") {
		t.Fatalf("retention set printed:\n%s", out)
	}
	ageSession(t, w.ctl.DataDir, id, 3*24*time.Hour)
	e2etest.WaitFor(t, 30*time.Second, "the retention job to delete "+key, func() bool { return len(s3.keys(t, prefix+"/"+id+"/")) == 0 })
	var expired api.Session
	e2etest.WaitFor(t, 10*time.Second, "session "+id+" to show its recording expired", func() bool {
		expired = session(t, w.admin, id)
		return expired.Recording.State == api.RecordingExpired
	})
	t.Logf("expired by the retention job %s after the session was aged", time.Since(start).Round(time.Millisecond))
	const notice = "recording expired under the 2-day retention of plan team"
	if !strings.Contains(expired.Recording.Notice, notice) || expired.Recording.Available {
		t.Fatalf("expired session's recording: %+v", expired.Recording)
	}
	if out := w.admin.MustRun("sessions", "show", id); !strings.Contains(out, notice) {
		t.Fatalf("sessions show of an expired recording lacks %q:\n%s", notice, out)
	}
	rp := w.admin.Run("sessions", "replay", id)
	if rp.Code != 5 || !strings.Contains(rp.Stderr, notice) || strings.Count(strings.TrimSpace(rp.Stderr), "\n") != 0 {
		t.Fatalf("replay of an expired recording: exit %d\n%s%s", rp.Code, rp.Stdout, rp.Stderr)
	}
	if s.BytesDown < int64(len(client)) {
		t.Fatalf("the session counted %d bytes down, the client received %d", s.BytesDown, len(client))
	}
	audit := w.admin.MustRun("audit", "ls", "--action", "recording.expire", "-o", "json")
	if !strings.Contains(audit, id) || !strings.Contains(audit, notice) {
		t.Fatalf("no recording.expire audit event for %s:\n%s", id, audit)
	}
	// The directory recording, newer, is kept.
	if s2 := session(t, w.admin, id2); s2.Recording.State != api.RecordingComplete {
		t.Fatalf("the recent recording %s is %s", id2, s2.Recording.State)
	}
}

// ageSession moves a session's times back by d in control's database (the
// one way to make a recording old enough for retention without waiting
// days), while control runs.
func ageSession(t *testing.T, dataDir, id string, d time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "onepam.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE sessions SET created_at = created_at - ?1, started_at = started_at - ?1, ended_at = ended_at - ?1 WHERE id = ?2`, d.Nanoseconds(), id)
	if err != nil {
		t.Fatalf("age session %s: %v", id, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("age session %s: %d rows changed", id, n)
	}
}

// TestRecordingAccessCLI: who may read recordings, through the CLI. A
// user replays its own session while the recording-access setting allows
// it (the default) and never another's; with --users-own off every read
// of its own (replay, export, verify, watch, search) exits 4 with a
// one-line reason, while sessions show still works and auditors still
// read it; each refusal is in the audit log naming the user, the session
// and the action.
func TestRecordingAccessCLI(t *testing.T) {
	w := newSSHWorld(t)
	bob := w.ctl.AddUser(t, w.admin, "bob", "user")
	carol := w.ctl.AddUser(t, w.admin, "carol", "auditor")
	w.admin.MustRun("policy", "add", "--subject", "user:bob", "--resource", "web")
	if code, errOut := w.run(t, bob, nil, nil, "ssh", "web", "--", "echo bob-was-here"); code != 0 {
		t.Fatalf("bob's ssh: exit %d %s", code, errOut)
	}
	own := w.newestSSH(t).ID
	if code, errOut := w.run(t, w.admin, nil, nil, "ssh", "web", "--", "echo admin-was-here"); code != 0 {
		t.Fatalf("admin's ssh: exit %d %s", code, errOut)
	}
	other := w.newestSSH(t).ID
	w.waitRecorded(t, own)
	w.waitRecorded(t, other)

	if out := w.admin.MustRun("settings", "recording-access", "show"); !strings.Contains(out, "users own on") {
		t.Fatalf("default recording access:\n%s", out)
	}
	if out := bob.MustRun("sessions", "replay", own); !strings.Contains(out, "bob-was-here") {
		t.Fatalf("bob's replay of his own session:\n%s", out)
	}
	denied := func(t *testing.T, u *e2etest.User, want string, args ...string) {
		t.Helper()
		r := u.Run(args...)
		msg := strings.TrimSpace(r.Stderr)
		if r.Code != 4 || !strings.HasPrefix(msg, "denied: ") || strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
			t.Fatalf("onepam %s: exit %d, want 4 with one line holding %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, want, r.Stdout, r.Stderr)
		}
	}
	denied(t, bob, `"admin"`, "sessions", "replay", other)

	out := w.admin.MustRun("settings", "recording-access", "set", "--users-own", "off")
	if !strings.Contains(out, "users own off") {
		t.Fatalf("recording-access set printed:\n%s", out)
	}
	const why = "onepam settings recording-access set --users-own on"
	for _, args := range [][]string{
		{"sessions", "replay", own},
		{"sessions", "export", own, "-o", filepath.Join(t.TempDir(), "own.cast")},
		{"sessions", "verify", own},
		{"sessions", "watch", own},
		{"sessions", "search", "bob-was-here"},
	} {
		denied(t, bob, why, args...)
	}
	if out := bob.MustRun("sessions", "show", own); !strings.Contains(out, own) {
		t.Fatalf("bob's sessions show of his own session:\n%s", out)
	}
	if out := carol.MustRun("sessions", "replay", own); !strings.Contains(out, "bob-was-here") {
		t.Fatalf("the auditor's replay of bob's session:\n%s", out)
	}
	audit := w.admin.MustRun("audit", "ls", "--actor", "bob", "-o", "json")
	var events []api.AuditEvent
	if err := json.Unmarshal([]byte(audit), &events); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if e.Target == own && e.Outcome == api.OutcomeDenied {
			seen[e.Action] = true
		}
	}
	for _, action := range []string{"recording.read", "recording.export", "recording.verify", "session.watch"} {
		if !seen[action] {
			t.Fatalf("no denied %s of %s by bob in the audit log:\n%s", action, own, audit)
		}
	}
	w.admin.MustRun("settings", "recording-access", "set", "--users-own", "on")
	if out := bob.MustRun("sessions", "replay", own); !strings.Contains(out, "bob-was-here") {
		t.Fatalf("bob's replay after switching back on:\n%s", out)
	}
}
