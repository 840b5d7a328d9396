package recordings

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// fakeS3 runs an in-memory S3 server (gofakes3) with bucket "rec" and
// returns settings for it.
func fakeS3(t *testing.T) api.S3Storage {
	t.Helper()
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	if err := backend.CreateBucket("rec"); err != nil {
		t.Fatal(err)
	}
	return api.S3Storage{Endpoint: srv.Listener.Addr().String(), Bucket: "rec", Region: "us-east-1", Prefix: "onepam/recordings",
		AccessKey: "test", SecretKey: "test-secret", PathStyle: true, Insecure: true}
}

func newTestBucket(t *testing.T, s3 api.S3Storage) *Bucket {
	t.Helper()
	b, err := NewBucket(BucketConfig{S3: s3, Staging: t.TempDir(), PartSize: minPartSize, Hold: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func objectKeys(t *testing.T, b *Bucket) []string {
	t.Helper()
	var keys []string
	for o := range b.core.Client.ListObjects(context.Background(), "rec", minio.ListObjectsOptions{Prefix: b.cfg.S3.Prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

func TestBucketUploadsPartsWhileTheSessionRuns(t *testing.T) {
	ctx := context.Background()
	b := newTestBucket(t, fakeS3(t))
	// A 14 MiB container-like stream sent as the uploader does: chunks,
	// with the last piece re-sent.
	data := make([]byte, 14<<20)
	rand.Read(data)
	const chunk = 256 << 10
	off := 0
	for off+chunk < len(data) {
		// The open frame: sent twice at the same offset, the second time
		// longer.
		if _, err := b.WriteAt(ctx, sid, api.FormatAsciicast, int64(off), data[off:off+chunk/2], false); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WriteAt(ctx, sid, api.FormatAsciicast, int64(off), data[off:off+chunk], false); err != nil {
			t.Fatal(err)
		}
		off += chunk
	}
	// Before the end: parts are in the bucket, the object is not.
	u, staged, err := b.loadUpload(sid)
	if err != nil || !staged || len(u.Parts) < 2 || u.UploadID == "" {
		t.Fatalf("no parts uploaded while the recording is written: %+v %v %v", u, staged, err)
	}
	parts, err := b.core.ListObjectParts(ctx, "rec", b.Key(sid), u.UploadID, 0, 100)
	if err != nil || len(parts.ObjectParts) != len(u.Parts) {
		t.Fatalf("bucket holds %d parts, want %d: %v", len(parts.ObjectParts), len(u.Parts), err)
	}
	if keys := objectKeys(t, b); len(keys) != 0 {
		t.Fatalf("object visible before the final chunk: %v", keys)
	}
	// Reads while it is written come from staging.
	checkOpen(t, b, data[:off])
	if _, err := b.WriteAt(ctx, sid, api.FormatAsciicast, int64(u.Sent-1), []byte("x"), false); err == nil {
		t.Fatal("a rewrite of uploaded bytes was accepted")
	}
	if size, err := b.WriteAt(ctx, sid, api.FormatAsciicast, int64(off), data[off:], true); err != nil || size != int64(len(data)) {
		t.Fatalf("final chunk: %d %v", size, err)
	}
	if keys := objectKeys(t, b); len(keys) != 1 || keys[0] != "onepam/recordings/"+sid+"/recording.oprec" {
		t.Fatalf("objects %v", keys)
	}
	checkOpen(t, b, data)
	if size, err := b.Size(ctx, sid, api.FormatAsciicast); err != nil || size != int64(len(data)) {
		t.Fatalf("size %d %v", size, err)
	}
	// A re-sent empty final chunk (a lost ack) is fine.
	if _, err := b.WriteAt(ctx, sid, api.FormatAsciicast, int64(len(data)), nil, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, sid); err != nil {
		t.Fatal(err)
	}
	if keys := objectKeys(t, b); len(keys) != 0 {
		t.Fatalf("objects left after delete: %v", keys)
	}
	if _, err := b.Open(ctx, sid, api.FormatAsciicast); !errors.Is(err, ErrNotFound) {
		t.Fatalf("open after delete: %v", err)
	}
}

func checkOpen(t *testing.T, b Store, want []byte) {
	t.Helper()
	rc, err := b.Open(context.Background(), sid, api.FormatAsciicast)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	blob, err := AsBlob(rc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(blob)
	if err != nil || !bytes.Equal(got, want) || blob.Size() != int64(len(want)) {
		t.Fatalf("read %d bytes (size %d), want %d identical: %v", len(got), blob.Size(), len(want), err)
	}
	if len(want) < 200 {
		return
	}
	mid := make([]byte, 100)
	if _, err := blob.ReadAt(mid, int64(len(want)/2)); err != nil || !bytes.Equal(mid, want[len(want)/2:len(want)/2+100]) {
		t.Fatalf("ReadAt in the middle: %v", err)
	}
}

func TestBucketSmallRecordingAndProbe(t *testing.T) {
	ctx := context.Background()
	b := newTestBucket(t, fakeS3(t))
	if _, err := b.WriteAt(ctx, sid, api.FormatConnlog, 0, []byte("small"), true); err != nil {
		t.Fatal(err)
	}
	checkOpen(t, b, []byte("small"))
	if res := b.Probe(ctx); !res.OK || len(res.Steps) != 3 {
		t.Fatalf("probe %+v", res)
	}
	bad := b.cfg.S3
	bad.Bucket = "missing"
	if res := newTestBucket(t, bad).Probe(ctx); res.OK {
		t.Fatalf("probe of a missing bucket passed: %+v", res)
	}
}

// TestRouterSwitchAndRetention: recordings written before a switch to
// the bucket stay readable in the directory; new ones go to the bucket,
// are read back byte-identical, and retention deletes both.
func TestRouterSwitchAndRetention(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dir, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRouter(ctx, dir, db, api.RecordingStorage{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := NewAdmin(AdminConfig{Store: db, Router: r})
	if err != nil {
		t.Fatal(err)
	}
	old, neu := "0190a1b2-c3d4-7e5f-8a9b-000000000001", "0190a1b2-c3d4-7e5f-8a9b-000000000002"
	oldData, newData := signedContainer(t, old, 1000), signedContainer(t, neu, 200000)
	if _, err := r.WriteAt(ctx, old, api.FormatConnlog, 0, oldData, true); err != nil {
		t.Fatal(err)
	}
	s3 := fakeS3(t)
	bad := s3
	bad.SecretKey = ""
	if _, err := admin.SetRecordingStorage(ctx, api.RecordingStorage{Kind: "s3", S3: &bad}, "admin"); err == nil {
		t.Fatal("storage without a secret accepted")
	}
	set, err := admin.SetRecordingStorage(ctx, api.RecordingStorage{Kind: "s3", S3: &s3}, "admin")
	if err != nil || set.S3.SecretKey != "********" {
		t.Fatalf("switch to s3: %+v %v", set, err)
	}
	for off := 0; off < len(newData); off += 64 << 10 {
		end := min(off+64<<10, len(newData))
		if _, err := r.WriteAt(ctx, neu, api.FormatConnlog, int64(off), newData[off:end], end == len(newData)); err != nil {
			t.Fatal(err)
		}
	}
	if loc, _ := r.Location(ctx, neu); loc != StoreName(api.RecordingStorage{Kind: "s3", S3: &s3}) {
		t.Fatalf("new recording stored in %q", loc)
	}
	for id, want := range map[string][]byte{old: oldData, neu: newData} {
		rc, err := r.Open(ctx, id, api.FormatConnlog)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: read %d bytes, want %d identical", id, len(got), len(want))
		}
	}
	// A restarted control (a new Router) finds both.
	r2, err := NewRouter(ctx, dir, db, api.RecordingStorage{}, nil)
	if err != nil || r2.Active() != StoreName(api.RecordingStorage{Kind: "s3", S3: &s3}) {
		t.Fatalf("restarted router: %v active %q", err, r2.Active())
	}
	if n, err := r2.Size(ctx, neu, api.FormatConnlog); err != nil || n != int64(len(newData)) {
		t.Fatalf("size after restart: %d %v", n, err)
	}
	// Retention: sessions for both recordings, ended long ago.
	ended := time.Now().Add(-30 * 24 * time.Hour)
	for _, id := range []string{old, neu} {
		seedEndedSession(t, db, id, ended)
	}
	job, err := NewRetentionJob(RetentionConfig{Store: db, Blobs: r2, Settings: admin.Retention, NewID: func() string { return fmt.Sprint(time.Now().UnixNano()) }})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := job.RunOnce(ctx); err != nil || n != 2 {
		t.Fatalf("retention expired %d, %v", n, err)
	}
	b := r2.stores[r2.Active()].(*Bucket)
	if keys := objectKeys(t, b); len(keys) != 0 {
		t.Fatalf("objects left after retention: %v", keys)
	}
	for _, id := range []string{old, neu} {
		s, err := db.GetSession(ctx, id)
		if err != nil || s.Recording.State != api.RecordingExpired {
			t.Fatalf("session %s after retention: %+v %v", id, s.Recording, err)
		}
	}
	if _, err := r2.Open(ctx, old, api.FormatConnlog); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired local recording still readable: %v", err)
	}
	if got := admin.ExpiredNotice(ctx); got != "recording expired under the 7-day retention of plan free: change the plan or the retention with onepam settings retention set" {
		t.Fatalf("notice %q", got)
	}
}

func signedContainer(t *testing.T, id string, lines int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := container.NewWriter(&b, container.Header{SessionID: id, Format: api.FormatConnlog}, container.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range lines {
		fmt.Fprintf(&writerAt{w, time.Duration(i) * time.Millisecond}, `{"t":%d,"event":"open","conn":%d}`+"\n", i, i+1)
	}
	_, priv, _ := ed25519.GenerateKey(nil)
	if err := w.Finish(priv); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type writerAt struct {
	w  *container.Writer
	at time.Duration
}

func (w *writerAt) Write(p []byte) (int, error) { return w.w.Write(w.at, p) }

// seedEndedSession creates a session that ended at ended with a complete
// recording.
func seedEndedSession(t *testing.T, db *sqlite.Store, id string, ended time.Time) {
	t.Helper()
	ctx := context.Background()
	s := api.Session{ID: id, User: "alice", Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo", Agent: "a", CreatedAt: ended.Add(-time.Minute)}
	if err := db.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, to := range []api.SessionStatus{api.StatusActive, api.StatusCompleted} {
		if err := transition(ctx, db, id, to, ended); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.SetRecording(ctx, id, api.Recording{Format: api.FormatConnlog, State: api.RecordingComplete, Available: true}); err != nil {
		t.Fatal(err)
	}
}

func transition(ctx context.Context, db *sqlite.Store, id string, to api.SessionStatus, at time.Time) error {
	_, err := db.Transition(ctx, id, store.Transition{To: to, At: at})
	return err
}

// completeBlob stores size random bytes as a complete recording in b and
// opens it; the blob is closed when the test ends.
func completeBlob(t *testing.T, b *Bucket, size int) (Blob, []byte) {
	t.Helper()
	ctx := context.Background()
	data := make([]byte, size)
	rand.Read(data)
	if _, err := b.WriteAt(ctx, sid, api.FormatAsciicast, 0, data, true); err != nil {
		t.Fatal(err)
	}
	rc, err := b.Open(ctx, sid, api.FormatAsciicast)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	blob, err := AsBlob(rc)
	if err != nil {
		t.Fatal(err)
	}
	return blob, data
}

// TestBucketBlobReadAfterReadAt: a complete recording read the way
// container readers do: ReadAt of the head and of the trailer (up to the
// end), then the whole stream with Read, then Seek and Read again.
func TestBucketBlobReadAfterReadAt(t *testing.T) {
	blob, data := completeBlob(t, newTestBucket(t, fakeS3(t)), 6<<20+12345)
	steps := []struct {
		name string
		off  int64
		n    int
		eof  bool
	}{
		{"head", 0, 8, false},
		{"tail to the end", int64(len(data) - 100), 100, false},
		{"past the end", int64(len(data) - 10), 100, true},
		{"middle", int64(len(data) / 2), 4096, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			p := make([]byte, st.n)
			n, err := blob.ReadAt(p, st.off)
			want := data[st.off:min(st.off+int64(st.n), int64(len(data)))]
			if !bytes.Equal(p[:n], want) || (err == io.EOF) != st.eof || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt(%d, %d): %d bytes, %v", st.n, st.off, n, err)
			}
		})
	}
	got, err := io.ReadAll(blob)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read after ReadAt: %d of %d bytes, equal %v, %v", len(got), len(data), bytes.Equal(got, data), err)
	}
	if _, err := blob.Seek(-1000, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(blob)
	if err != nil || !bytes.Equal(got, data[len(data)-1000:]) {
		t.Fatalf("Read after Seek: %d bytes, %v", len(got), err)
	}
}

// countingTransport counts the GET requests of a Bucket.
type countingTransport struct {
	mu   sync.Mutex
	gets int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		c.mu.Lock()
		c.gets++
		c.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets
}

// TestBucketBlobReadAhead: reading a complete recording through in small
// pieces (as verify reads frames) takes a few GETs, not one per piece;
// random reads return the right bytes.
func TestBucketBlobReadAhead(t *testing.T) {
	tr := &countingTransport{}
	b, err := NewBucket(BucketConfig{S3: fakeS3(t), Staging: t.TempDir(), Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	blob, data := completeBlob(t, b, 6<<20+777)
	before := tr.count()
	p := make([]byte, 50_000)
	for off := int64(0); off < int64(len(data)); off += int64(len(p)) {
		n, err := blob.ReadAt(p, off)
		if (err != nil && err != io.EOF) || !bytes.Equal(p[:n], data[off:min(off+int64(len(p)), int64(len(data)))]) {
			t.Fatalf("sequential ReadAt at %d: %d bytes, %v", off, n, err)
		}
	}
	gets := tr.count() - before
	t.Logf("%d ReadAt calls of %d bytes over %d bytes: %d GETs", (len(data)+len(p)-1)/len(p), len(p), len(data), gets)
	if gets > 10 {
		t.Fatalf("sequential reads took %d GETs", gets)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := range 50 {
		off := rng.Int64N(int64(len(data)))
		q := make([]byte, 1+rng.IntN(200_000))
		n, err := blob.ReadAt(q, off)
		end := min(off+int64(len(q)), int64(len(data)))
		if !bytes.Equal(q[:n], data[off:end]) || (end-off < int64(len(q))) != (err == io.EOF) || (err != nil && err != io.EOF) {
			t.Fatalf("random ReadAt %d (%d bytes at %d): %d bytes, %v", i, len(q), off, n, err)
		}
	}
}
