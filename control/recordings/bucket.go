package recordings

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/onepam/onepam/pkg/api"
)

// Bucket is a Store in an S3-compatible bucket (minio-go). A recording is
// the object
//
//	<prefix>/<session id>/recording.oprec
//
// uploaded with a multipart upload while the session runs: control keeps
// the recording in a local staging file (fsynced before each chunk is
// acknowledged, so nothing acknowledged is lost if control stops) and
// sends every PartSize bytes (default 8 MiB, S3's minimum part being 5 MiB)
// as a part as soon as they are more than Hold (1 MiB) behind the end — the
// uploader may still rewrite the last piece of a container, never more.
// The final chunk sends the rest as the last part and completes the
// upload (a recording smaller than one part is one PutObject); the staging
// file is then deleted and reads go to the object. The upload id and the
// parts' ETags are kept next to the staging file (<session id>.json), so a
// restarted control continues the upload. Reads of a recording still
// being written come from the staging file.
type Bucket struct {
	cfg    BucketConfig
	core   *minio.Core
	seed   maphash.Seed
	locks  [64]sync.Mutex
	tailMu sync.Mutex
	tails  map[string]int64 // offset of each recording's last chunk
}

// BucketConfig configures a Bucket.
type BucketConfig struct {
	S3 api.S3Storage
	// Staging is the local directory of recordings being written.
	Staging string
	// PartSize is the multipart part size (default 8 MiB, at least 5 MiB).
	PartSize int64
	// Hold is how far behind the end a byte must be to be uploaded
	// (default 1 MiB).
	Hold int64
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
}

const minPartSize = 5 << 20

func (c BucketConfig) withDefaults() (BucketConfig, error) {
	if c.S3.Endpoint == "" || c.S3.Bucket == "" {
		return c, errors.New("s3 storage needs an endpoint and a bucket")
	}
	if c.Staging == "" {
		return c, errors.New("s3 storage needs a staging directory")
	}
	if c.PartSize <= 0 {
		c.PartSize = 8 << 20
	}
	c.PartSize = max(c.PartSize, minPartSize)
	if c.Hold <= 0 {
		c.Hold = 1 << 20
	}
	c.S3.Prefix = strings.Trim(c.S3.Prefix, "/")
	return c, nil
}

var _ Store = (*Bucket)(nil)

// NewBucket returns a Bucket for the settings s (no request is made).
func NewBucket(cfg BucketConfig) (*Bucket, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := cfg.S3
	var creds *credentials.Credentials
	switch {
	case s.AccessKey != "" || s.SecretKey != "":
		creds = credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")
	case s.EnvCredentials:
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.FileAWSCredentials{}, &credentials.IAM{},
		})
	default:
		return nil, errors.New("s3 storage needs an access key and secret, or env_credentials")
	}
	opts := &minio.Options{Creds: creds, Secure: !s.Insecure, Region: s.Region, Transport: cfg.Transport}
	if s.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	if s.CAPEM != "" && opts.Transport == nil {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(s.CAPEM)) {
			return nil, errors.New("s3 storage: ca_pem holds no PEM certificate")
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Transport = tr
	}
	core, err := minio.NewCore(s.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: %w", err)
	}
	if err := os.MkdirAll(cfg.Staging, 0o700); err != nil {
		return nil, fmt.Errorf("s3 staging directory: %w", err)
	}
	return &Bucket{cfg: cfg, core: core, seed: maphash.MakeSeed(), tails: map[string]int64{}}, nil
}

// Key returns the object key of a session's recording.
func (b *Bucket) Key(sessionID string) string {
	return path.Join(b.cfg.S3.Prefix, sessionID, ContainerFile)
}

func (b *Bucket) lock(id string) *sync.Mutex {
	return &b.locks[maphash.String(b.seed, id)%uint64(len(b.locks))]
}

// upload is the state of a recording being written, kept in
// <staging>/<session id>.json.
type upload struct {
	UploadID string               `json:"upload_id,omitempty"`
	Parts    []minio.CompletePart `json:"parts,omitempty"`
	Sent     int64                `json:"sent"` // bytes in uploaded parts
}

func (b *Bucket) stagingPaths(id string) (data, meta string) {
	return filepath.Join(b.cfg.Staging, id+".oprec"), filepath.Join(b.cfg.Staging, id+".json")
}

func (b *Bucket) loadUpload(id string) (upload, bool, error) {
	_, meta := b.stagingPaths(id)
	raw, err := os.ReadFile(meta)
	if errors.Is(err, os.ErrNotExist) {
		return upload{}, false, nil
	}
	if err != nil {
		return upload{}, false, err
	}
	var u upload
	if err := json.Unmarshal(raw, &u); err != nil {
		return upload{}, false, fmt.Errorf("staging state of %s: %w", id, err)
	}
	return u, true, nil
}

func (b *Bucket) saveUpload(id string, u upload) error {
	_, meta := b.stagingPaths(id)
	raw, err := json.Marshal(u)
	if err != nil {
		return err
	}
	tmp := meta + ".tmp"
	if err := writeSync(tmp, raw); err != nil {
		return err
	}
	return os.Rename(tmp, meta)
}

func writeSync(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteAt implements Store (see the type's comment).
func (b *Bucket) WriteAt(ctx context.Context, sessionID string, format api.RecordingFormat, off int64, data []byte, final bool) (int64, error) {
	if err := CheckSessionID(sessionID); err != nil {
		return 0, err
	}
	if _, err := Ext(format); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("write recording %s: negative offset %d", sessionID, off)
	}
	mu := b.lock(sessionID)
	mu.Lock()
	defer mu.Unlock()
	dataPath, _ := b.stagingPaths(sessionID)
	u, staged, err := b.loadUpload(sessionID)
	if err != nil {
		return 0, err
	}
	if !staged {
		// Complete already (a re-sent final chunk) or new.
		if size, err := b.objectSize(ctx, sessionID); err != nil {
			return 0, err
		} else if size > 0 {
			if off == size && len(data) == 0 && final {
				return size, nil
			}
			return size, fmt.Errorf("write recording %s: it is complete in the bucket (%d bytes)", sessionID, size)
		}
		if err := b.saveUpload(sessionID, upload{}); err != nil {
			return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
		}
	}
	f, err := os.OpenFile(dataPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if off > size {
		return size, fmt.Errorf("write recording %s at offset %d: %w (%d bytes stored)", sessionID, off, ErrGap, size)
	}
	if off < u.Sent {
		return size, fmt.Errorf("write recording %s at offset %d: the bytes before %d are already uploaded to the bucket", sessionID, off, u.Sent)
	}
	end := off + int64(len(data))
	if _, err := f.WriteAt(data, off); err != nil {
		return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
	}
	if end < size {
		if err := f.Truncate(end); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
	}
	b.noteTail(sessionID, off, final)
	// Parts while the session runs; the rest and completion at the end.
	limit := end - b.cfg.Hold
	if final {
		limit = end
	}
	if err := b.sendParts(ctx, sessionID, f, &u, limit, final); err != nil {
		return end, err
	}
	if final {
		if err := b.complete(ctx, sessionID, f, &u, end); err != nil {
			return end, err
		}
	}
	return end, nil
}

// sendParts uploads whole parts of the staging file below limit (and, when
// final, the last part of any size).
func (b *Bucket) sendParts(ctx context.Context, id string, f *os.File, u *upload, limit int64, final bool) error {
	for {
		n := min(b.cfg.PartSize, limit-u.Sent)
		if n <= 0 || (n < b.cfg.PartSize && !final) {
			return nil
		}
		if final && u.UploadID == "" && n < b.cfg.PartSize {
			return nil // one PutObject at completion
		}
		if u.UploadID == "" {
			uid, err := b.core.NewMultipartUpload(ctx, b.cfg.S3.Bucket, b.Key(id), minio.PutObjectOptions{ContentType: "application/octet-stream"})
			if err != nil {
				return fmt.Errorf("start the upload of recording %s: %w", id, err)
			}
			u.UploadID = uid
			if err := b.saveUpload(id, *u); err != nil {
				return err
			}
		}
		num := len(u.Parts) + 1
		_, sha := sums(io.NewSectionReader(f, u.Sent, n))
		p, err := b.core.PutObjectPart(ctx, b.cfg.S3.Bucket, b.Key(id), u.UploadID, num, io.NewSectionReader(f, u.Sent, n), n,
			minio.PutObjectPartOptions{Sha256Hex: sha, DisableContentSha256: true})
		if err != nil {
			return fmt.Errorf("upload part %d of recording %s: %w", num, id, err)
		}
		u.Parts = append(u.Parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
		u.Sent += n
		if err := b.saveUpload(id, *u); err != nil {
			return err
		}
	}
}

// complete makes the object and drops the staging files.
func (b *Bucket) complete(ctx context.Context, id string, f *os.File, u *upload, size int64) error {
	if u.UploadID == "" {
		md5b64, sha := sums(io.NewSectionReader(f, 0, size))
		if _, err := b.core.PutObject(ctx, b.cfg.S3.Bucket, b.Key(id), io.NewSectionReader(f, 0, size), size, md5b64, sha, minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
			return fmt.Errorf("upload recording %s: %w", id, err)
		}
	} else if _, err := b.core.CompleteMultipartUpload(ctx, b.cfg.S3.Bucket, b.Key(id), u.UploadID, u.Parts, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("complete the upload of recording %s: %w", id, err)
	}
	dataPath, meta := b.stagingPaths(id)
	return errors.Join(os.Remove(meta), os.Remove(dataPath))
}

func (b *Bucket) noteTail(id string, off int64, final bool) {
	b.tailMu.Lock()
	defer b.tailMu.Unlock()
	if final {
		delete(b.tails, id)
	} else {
		b.tails[id] = off
	}
}

// objectSize returns the size of a complete recording's object, 0 when
// there is none.
func (b *Bucket) objectSize(ctx context.Context, id string) (int64, error) {
	info, err := b.core.StatObject(ctx, b.cfg.S3.Bucket, b.Key(id), minio.StatObjectOptions{})
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" || minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return 0, nil
		}
		return 0, fmt.Errorf("recording %s in the bucket: %w", id, err)
	}
	return info.Size, nil
}

// Size implements Store.
func (b *Bucket) Size(ctx context.Context, sessionID string, format api.RecordingFormat) (int64, error) {
	if err := CheckSessionID(sessionID); err != nil {
		return 0, err
	}
	mu := b.lock(sessionID)
	mu.Lock()
	defer mu.Unlock()
	dataPath, _ := b.stagingPaths(sessionID)
	if st, err := os.Stat(dataPath); err == nil {
		return st.Size(), nil
	}
	return b.objectSize(ctx, sessionID)
}

// Open implements Store: a Blob of the staging file (as Dir does) while
// the recording is written, of the object once complete.
func (b *Bucket) Open(ctx context.Context, sessionID string, format api.RecordingFormat) (io.ReadCloser, error) {
	if err := CheckSessionID(sessionID); err != nil {
		return nil, err
	}
	mu := b.lock(sessionID)
	mu.Lock()
	defer mu.Unlock()
	dataPath, _ := b.stagingPaths(sessionID)
	if f, err := os.Open(dataPath); err == nil {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		b.tailMu.Lock()
		stable, ok := b.tails[sessionID]
		b.tailMu.Unlock()
		if !ok || stable > st.Size() {
			stable = st.Size()
		}
		tail := make([]byte, st.Size()-stable)
		if _, err := f.ReadAt(tail, stable); err != nil {
			f.Close()
			return nil, err
		}
		return &snapBlob{f: f, stable: stable, tail: tail}, nil
	}
	info, err := b.core.StatObject(ctx, b.cfg.S3.Bucket, b.Key(sessionID), minio.StatObjectOptions{})
	if err != nil {
		if r := minio.ToErrorResponse(err); r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: session %s (%s)", ErrNotFound, sessionID, format)
		}
		return nil, fmt.Errorf("open recording %s in the bucket: %w", sessionID, err)
	}
	return &objectBlob{ctx: ctx, core: b.core, bucket: b.cfg.S3.Bucket, key: b.Key(sessionID), etag: info.ETag, size: info.Size}, nil
}

// Delete implements Store: the object, an unfinished upload and the
// staging files.
func (b *Bucket) Delete(ctx context.Context, sessionID string) error {
	if err := CheckSessionID(sessionID); err != nil {
		return err
	}
	mu := b.lock(sessionID)
	mu.Lock()
	defer mu.Unlock()
	b.noteTail(sessionID, 0, true)
	u, staged, err := b.loadUpload(sessionID)
	if err != nil {
		return err
	}
	if staged && u.UploadID != "" {
		if err := b.core.AbortMultipartUpload(ctx, b.cfg.S3.Bucket, b.Key(sessionID), u.UploadID); err != nil {
			return fmt.Errorf("abort the upload of recording %s: %w", sessionID, err)
		}
	}
	if err := b.core.RemoveObject(ctx, b.cfg.S3.Bucket, b.Key(sessionID), minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete recording %s from the bucket: %w", sessionID, err)
	}
	dataPath, meta := b.stagingPaths(sessionID)
	return errors.Join(removeIfExists(dataPath), removeIfExists(meta))
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Probe writes, reads back and deletes a probe object under the prefix and
// says what happened.
func (b *Bucket) Probe(ctx context.Context) api.StorageTestResult {
	var res api.StorageTestResult
	rnd := make([]byte, 8)
	rand.Read(rnd)
	key := path.Join(b.cfg.S3.Prefix, ".onepam-probe-"+hex.EncodeToString(rnd))
	body := []byte("onepam recording storage probe " + hex.EncodeToString(rnd))
	where := fmt.Sprintf("s3://%s/%s at %s", b.cfg.S3.Bucket, key, b.cfg.S3.Endpoint)
	step := func(what string, f func() error) bool {
		start := time.Now()
		err := f()
		d := time.Since(start).Round(time.Millisecond)
		if err != nil {
			res.Steps = append(res.Steps, fmt.Sprintf("%s: FAILED after %s: %v", what, d, err))
			res.Message = fmt.Sprintf("%s %s failed: %v", what, where, err)
			return false
		}
		res.Steps = append(res.Steps, fmt.Sprintf("%s: ok (%s)", what, d))
		return true
	}
	ok := step("write", func() error {
		md5b64, sha := sums(bytes.NewReader(body))
		_, err := b.core.PutObject(ctx, b.cfg.S3.Bucket, key, bytes.NewReader(body), int64(len(body)), md5b64, sha, minio.PutObjectOptions{})
		return err
	}) && step("read", func() error {
		rc, _, _, err := b.core.GetObject(ctx, b.cfg.S3.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, body) {
			return fmt.Errorf("read back %d bytes that differ from the %d written", len(got), len(body))
		}
		return nil
	}) && step("delete", func() error {
		return b.core.RemoveObject(ctx, b.cfg.S3.Bucket, key, minio.RemoveObjectOptions{})
	})
	if ok {
		res.OK, res.Message = true, "wrote, read back and deleted a probe object at "+where
	}
	return res
}

// sums returns the MD5 (base64) and SHA-256 (hex) of r's bytes: sent with
// each upload, they sign the request over its content in one piece rather
// than with the chunked streaming signature (which some S3-compatible
// servers store verbatim), and let the server check what it received.
func sums(r io.Reader) (md5b64, sha256hex string) {
	m, h := md5.New(), sha256.New()
	io.Copy(io.MultiWriter(m, h), r)
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), hex.EncodeToString(h.Sum(nil))
}
