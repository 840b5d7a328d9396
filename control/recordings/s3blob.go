package recordings

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/minio/minio-go/v7"
)

// Read-ahead of objectBlob: a read that does not continue the previous
// one fetches at least minWindow bytes; each read continuing a window that
// was read to its end fetches twice as much, up to maxWindow. Reading a
// recording through (export, verify, replay) takes a few dozen GETs
// whatever its frame count; a reader jumping around (the index, a seek)
// fetches little beyond what it asks for.
const (
	minWindow = 64 << 10
	maxWindow = 16 << 20
	// drainMax: an abandoned window with at most this much left is read
	// to its end so that its connection is reused.
	drainMax = 64 << 10
)

// objectBlob is a complete recording in the bucket as a Blob: ranged GETs
// pinned to the ETag seen at Open (a reader never mixes two versions of an
// object), with read-ahead windows (see minWindow). Its methods are
// serialised. minio-go's own *Object is not used: after a ReadAt that
// reaches the end it answers io.EOF to every Read, and container readers
// read the trailer first.
type objectBlob struct {
	ctx         context.Context
	core        *minio.Core
	bucket, key string
	etag        string
	size        int64

	mu        sync.Mutex
	pos       int64         // Read/Seek position
	stream    io.ReadCloser // the current window, at streamPos
	streamPos int64
	streamEnd int64 // end of the current window
	window    int64 // size of the next window
	lastEnd   int64 // where the last window read to its end ended
}

var _ Blob = (*objectBlob)(nil)

// Size implements Blob.
func (o *objectBlob) Size() int64 { return o.size }

// open starts a window at off for a read of want bytes.
func (o *objectBlob) open(off, want int64) error {
	if off == o.lastEnd && o.window > 0 {
		o.window = min(2*o.window, maxWindow)
	} else {
		o.window = minWindow
	}
	end := min(o.size, off+max(want, o.window))
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, end-1); err != nil {
		return err
	}
	if o.etag != "" {
		if err := opts.SetMatchETag(o.etag); err != nil {
			return err
		}
	}
	rc, _, _, err := o.core.GetObject(o.ctx, o.bucket, o.key, opts)
	if err != nil {
		return fmt.Errorf("read s3://%s/%s bytes %d-%d: %w", o.bucket, o.key, off, end-1, err)
	}
	o.stream, o.streamPos, o.streamEnd = rc, off, end
	return nil
}

// drop abandons the current window.
func (o *objectBlob) drop() {
	if o.stream == nil {
		return
	}
	if o.streamEnd-o.streamPos <= drainMax {
		_, _ = io.Copy(io.Discard, o.stream)
	}
	o.stream.Close()
	o.stream = nil
}

// readAt fills p from off (p within the object), under o.mu.
func (o *objectBlob) readAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if o.stream == nil || o.streamPos != at {
			o.drop()
			if err := o.open(at, int64(len(p)-n)); err != nil {
				return n, err
			}
		}
		chunk := p[n:min(len(p), n+int(o.streamEnd-o.streamPos))]
		k, err := io.ReadFull(o.stream, chunk)
		n += k
		o.streamPos += int64(k)
		if err != nil {
			o.drop()
			return n, fmt.Errorf("read s3://%s/%s at %d: %w", o.bucket, o.key, at, noEOF(err))
		}
		if o.streamPos == o.streamEnd {
			o.stream.Close()
			o.stream, o.lastEnd = nil, o.streamEnd
		}
	}
	return n, nil
}

// noEOF turns an early end of a window into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadAt implements io.ReaderAt.
func (o *objectBlob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("recording: negative offset")
	}
	if off >= o.size {
		return 0, io.EOF
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	want := min(int64(len(p)), o.size-off)
	n, err := o.readAt(p[:want], off)
	if err == nil && want < int64(len(p)) {
		err = io.EOF
	}
	return n, err
}

// Read implements io.Reader.
func (o *objectBlob) Read(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pos >= o.size {
		return 0, io.EOF
	}
	n, err := o.readAt(p[:min(int64(len(p)), o.size-o.pos)], o.pos)
	o.pos += int64(n)
	return n, err
}

// Seek implements io.Seeker.
func (o *objectBlob) Seek(off int64, whence int) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
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

// Close implements io.Closer.
func (o *objectBlob) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.drop()
	return nil
}
