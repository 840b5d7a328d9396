package recordings

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Blob is what a Store's Open returns for random access: Dir and Bucket
// return one (as the io.ReadCloser of the Store interface). Readers that
// seek (container.Open, Verify, the seek API) use AsBlob.
type Blob interface {
	io.ReadCloser
	io.ReaderAt
	io.Seeker
	// Size is the blob's size as of Open.
	Size() int64
}

// AsBlob returns r as a Blob: itself when it is one, an *os.File wrapped.
func AsBlob(r io.ReadCloser) (Blob, error) {
	switch b := r.(type) {
	case Blob:
		return b, nil
	case *os.File:
		st, err := b.Stat()
		if err != nil {
			return nil, fmt.Errorf("stat recording: %w", err)
		}
		return &fileBlob{File: b, size: st.Size()}, nil
	}
	return nil, fmt.Errorf("recording store gave a %T, which cannot seek", r)
}

type fileBlob struct {
	*os.File
	size int64
}

func (f *fileBlob) Size() int64 { return f.size }

// snapBlob is a stored recording as of Open: the file's first stable
// bytes (never rewritten) and a copy of the tail the uploader may still
// rewrite (the last chunk, a re-sent open frame), taken under the
// recording's lock so a reader never sees half of a rewrite.
type snapBlob struct {
	f      *os.File
	stable int64
	tail   []byte
	pos    int64
}

func (s *snapBlob) Size() int64 { return s.stable + int64(len(s.tail)) }

func (s *snapBlob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("recording: negative offset")
	}
	n := 0
	if off < s.stable {
		m := min(int64(len(p)), s.stable-off)
		k, err := s.f.ReadAt(p[:m], off)
		n = k
		if k < int(m) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		off += m
	}
	if n == len(p) {
		return n, nil
	}
	t := off - s.stable
	if t >= int64(len(s.tail)) {
		return n, io.EOF
	}
	k := copy(p[n:], s.tail[t:])
	n += k
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (s *snapBlob) Read(p []byte) (int, error) {
	if s.pos >= s.Size() {
		return 0, io.EOF
	}
	n, err := s.ReadAt(p[:min(int64(len(p)), s.Size()-s.pos)], s.pos)
	s.pos += int64(n)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil
	}
	return n, err
}

func (s *snapBlob) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += s.Size()
	}
	if off < 0 {
		return s.pos, errors.New("recording: seek before the start")
	}
	s.pos = off
	return off, nil
}

func (s *snapBlob) Close() error { return s.f.Close() }
