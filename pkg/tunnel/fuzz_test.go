package tunnel

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/onepam/onepam/pkg/api"
)

// FuzzReadHeader: any bytes give a header, io.EOF, or an error wrapping
// ErrMalformed; never a panic, and never a body larger than the limit.
func FuzzReadHeader(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteHeader(&buf, api.StreamConn, api.ConnOpen{SessionID: "0190b7a4-0000-7000-8000-000000000000", ConnID: 1})
	f.Add(buf.Bytes())
	f.Add(rawHeader("OPS1", 3, 2, "{}"))
	f.Add(rawHeader("OPS1", 5, 0xffffffff, ""))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		kind, body, err := ReadHeader(bytes.NewReader(in))
		if err != nil {
			if err != io.EOF && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if len(body) > MaxHeaderSize || kind.String() == "unknown" {
			t.Fatalf("accepted kind %d with %d-byte body", kind, len(body))
		}
		var v map[string]any
		_ = DecodeHeader(body, &v)
	})
}

// FuzzReadChunk: any bytes give chunks, io.EOF or ErrMalformed.
func FuzzReadChunk(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteChunk(&buf, Chunk{Offset: 42, Data: []byte("data"), Final: true})
	f.Add(buf.Bytes())
	f.Add(make([]byte, 13))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			c, err := ReadChunk(r)
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrMalformed) {
					t.Fatalf("unexpected error type: %v", err)
				}
				return
			}
			if c.Offset < 0 || len(c.Data) > MaxChunkSize {
				t.Fatalf("accepted %+v", c)
			}
		}
	})
}

// FuzzReadFrame: any bytes give frames, io.EOF or ErrMalformed.
func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteFrame(&buf, api.AgentMessage{Type: api.MsgHeartbeat})
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		for {
			var m api.AgentMessage
			if err := ReadFrame(r, &m); err != nil {
				if err != io.EOF && !errors.Is(err, ErrMalformed) {
					t.Fatalf("unexpected error type: %v", err)
				}
				return
			}
		}
	})
}
