package recordings

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// objectBlob is a complete recording in the bucket as a Blob. Every
// ReadAt is one ranged GET; Read streams one ranged GET from the current
// position to the end and starts another after a Seek. Each request is
// pinned to the ETag seen at Open, so a reader never mixes two versions
// of an object. (minio-go's own *Object keeps a sticky io.EOF after a
// ReadAt that reaches the end, after which Read returns nothing: readers
// of containers read the trailer first, so it cannot be used here.)
type objectBlob struct {
	ctx         context.Context
	core        *minio.Core
	bucket, key string
	etag        string
	size        int64

	pos     int64         // Read/Seek position
	body    io.ReadCloser // the GET Read streams from, at bodyPos
	bodyPos int64
}

var _ Blob = (*objectBlob)(nil)

// Size implements Blob.
func (o *objectBlob) Size() int64 { return o.size }

// get starts a GET of bytes [from, to] (inclusive).
func (o *objectBlob) get(from, to int64) (io.ReadCloser, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(from, to); err != nil {
		return nil, err
	}
	if o.etag != "" {
		if err := opts.SetMatchETag(o.etag); err != nil {
			return nil, err
		}
	}
	rc, _, _, err := o.core.GetObject(o.ctx, o.bucket, o.key, opts)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s bytes %d-%d: %w", o.bucket, o.key, from, to, err)
	}
	return rc, nil
}

// ReadAt implements io.ReaderAt.
func (o *objectBlob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("recording: negative offset")
	}
	if off >= o.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), o.size-off))
	if n == 0 {
		return 0, nil
	}
	rc, err := o.get(off, off+int64(n)-1)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	k, err := io.ReadFull(rc, p[:n])
	if err != nil {
		return k, fmt.Errorf("read s3://%s/%s at %d: %w", o.bucket, o.key, off, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Read implements io.Reader.
func (o *objectBlob) Read(p []byte) (int, error) {
	if o.pos >= o.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if o.body == nil || o.bodyPos != o.pos {
		o.closeBody()
		rc, err := o.get(o.pos, o.size-1)
		if err != nil {
			return 0, err
		}
		o.body, o.bodyPos = rc, o.pos
	}
	n, err := o.body.Read(p[:min(int64(len(p)), o.size-o.pos)])
	o.pos += int64(n)
	o.bodyPos += int64(n)
	if errors.Is(err, io.EOF) {
		o.closeBody()
		if o.pos < o.size {
			return n, fmt.Errorf("read s3://%s/%s: %w at %d of %d bytes", o.bucket, o.key, io.ErrUnexpectedEOF, o.pos, o.size)
		}
		err = nil
	}
	return n, err
}

// Seek implements io.Seeker.
func (o *objectBlob) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += o.pos
	case io.SeekEnd:
		off += o.size
	}
	if off < 0 {
		return o.pos, errors.New("recording: seek before the start")
	}
	o.pos = off
	return off, nil
}

func (o *objectBlob) closeBody() {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
}

// Close implements io.Closer.
func (o *objectBlob) Close() error {
	o.closeBody()
	return nil
}
