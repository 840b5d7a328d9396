package container

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"strings"
	"testing"
	"time"
)

// layout is a small finished recording and where its parts are.
type layout struct {
	data    []byte
	frames  []FrameInfo
	trailer Trailer
	hdrEnd  int64
}

func smallRecording(t *testing.T) layout {
	t.Helper()
	var ws []write
	for i := range 40 {
		ws = append(ws, write{time.Duration(i) * 250 * time.Millisecond, []byte(strings.Repeat("output line ", 1+i%5) + "\r\n")})
	}
	rec := build(t, ws, 2*time.Second, 0, true)
	data := rec.bytes()
	rd, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := rd.Trailer()
	if !ok || rd.NumFrames() != 5 {
		t.Fatalf("%d frames, trailer %v", rd.NumFrames(), ok)
	}
	return layout{data: data, frames: rd.Frames(), trailer: tr, hdrEnd: rd.Frame(0).Offset}
}

func flip(b []byte, off int64) []byte {
	c := append([]byte(nil), b...)
	c[off] ^= 0xff
	return c
}

// fixFrameCRC recomputes the CRC of the frame header at off.
func fixFrameCRC(b []byte, off int64) {
	h := b[off : off+FrameHeaderSize]
	binary.BigEndian.PutUint32(h[64:], crc32.Checksum(h[:64], castagnoli))
}

func TestVerifyTampering(t *testing.T) {
	l := smallRecording(t)
	f := l.frames
	size := int64(len(l.data))
	tr := l.trailer
	sigOff := size - trailerTail
	otherPub, _, _ := ed25519.GenerateKey(nil)

	for _, tc := range []struct {
		name   string
		data   func() []byte
		pub    ed25519.PublicKey
		status Status
		frame  int
		offset int64 // -1: not checked
		msg    string
	}{
		{"intact", func() []byte { return l.data }, nil, StatusOK, -1, 0, "ok: 5 frames"},
		{"header magic", func() []byte { return flip(l.data, 1) }, nil, StatusTampered, -1, 0, "file header was altered"},
		{"header JSON", func() []byte { return flip(l.data, 20) }, nil, StatusTampered, -1, 0, "file header was altered"},
		{"header JSON length", func() []byte { return flip(l.data, 8) }, nil, StatusTampered, -1, -1, "file header"},
		{"header JSON with its CRC recomputed", func() []byte {
			c := bytes.Replace(l.data, []byte(`"agent-1"`), []byte(`"agent-2"`), 1)
			n := l.hdrEnd - 4
			binary.BigEndian.PutUint32(c[n:], crc32.Checksum(c[:n], castagnoli))
			return c
		}, nil, StatusTampered, 0, f[0].Offset, "frame 0 at offset"},
		{"frame header time", func() []byte { return flip(l.data, f[2].Offset+12) }, nil, StatusTampered, 2, f[2].Offset, "altered frame header"},
		{"frame header chain hash", func() []byte { return flip(l.data, f[2].Offset+40) }, nil, StatusTampered, 2, f[2].Offset, "altered frame header"},
		{"frame header time with its CRC recomputed", func() []byte {
			c := flip(l.data, f[2].Offset+23)
			fixFrameCRC(c, f[2].Offset)
			return c
		}, nil, StatusTampered, 2, f[2].Offset, "does not match the hash chain: altered"},
		{"payload", func() []byte { return flip(l.data, f[3].Offset+FrameHeaderSize+10) }, nil, StatusTampered, 3, f[3].Offset, "frame 3 at offset"},
		{"last payload byte", func() []byte { return flip(l.data, f[4].end()-1) }, nil, StatusTampered, 4, f[4].Offset, "does not match the hash chain"},
		{"trailer header", func() []byte { return flip(l.data, tr.Offset+30) }, nil, StatusTampered, 5, tr.Offset, "trailer"},
		{"trailer index", func() []byte { return flip(l.data, tr.Offset+FrameHeaderSize+20) }, nil, StatusTampered, 5, tr.Offset, "the trailer (frame 5)"},
		{"signature", func() []byte { return flip(l.data, sigOff+7) }, nil, StatusBadSignature, 5, sigOff, "does not verify"},
		{"footer", func() []byte { return flip(l.data, size-3) }, nil, StatusTampered, 5, tr.Offset, "footer"},
		{"frame deleted", func() []byte {
			return append(append([]byte(nil), l.data[:f[2].Offset]...), l.data[f[2].end():]...)
		}, nil, StatusTampered, 2, f[2].Offset, "holds frame number 3: frames were deleted"},
		{"frames swapped", func() []byte {
			c := append([]byte(nil), l.data[:f[1].Offset]...)
			c = append(c, l.data[f[2].Offset:f[2].end()]...)
			c = append(c, l.data[f[1].Offset:f[1].end()]...)
			return append(c, l.data[f[3].Offset:]...)
		}, nil, StatusTampered, 1, f[1].Offset, "holds frame number 2"},
		{"truncated at a frame boundary", func() []byte { return l.data[:f[3].Offset] }, nil, StatusUnsignedCut, 2, f[3].Offset, "recording cut after frame 2 at session time 00:00:05"},
		{"truncated inside a frame", func() []byte { return l.data[:f[3].Offset+100] }, nil, StatusUnsignedCut, 2, f[3].Offset, "torn frame of 100 bytes"},
		{"trailer removed", func() []byte { return l.data[:tr.Offset] }, nil, StatusUnsignedCut, 4, tr.Offset, "cut after frame 4 at session time 00:00:09"},
		{"bytes after the trailer", func() []byte { return append(append([]byte(nil), l.data...), "extra"...) }, nil, StatusTampered, 5, size, "followed by 5 extra bytes"},
		{"other agent's key", func() []byte { return l.data }, otherPub, StatusBadSignature, 5, tr.Offset, "signed with key"},
		{"rewritten and re-signed by someone else", func() []byte {
			var buf bytes.Buffer
			w, _ := NewWriter(&buf, testHeader(), Config{})
			w.Write(0, []byte("nothing to see here\r\n"))
			_, forger, _ := ed25519.GenerateKey(nil)
			w.Finish(forger)
			return buf.Bytes()
		}, nil, StatusBadSignature, 1, -1, "not the agent's key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data()
			pub := tc.pub
			if pub == nil {
				pub = mustPub()
			}
			rep, err := Verify(bytes.NewReader(data), int64(len(data)), pub)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != tc.status || rep.Frame != tc.frame || (tc.offset >= 0 && rep.Offset != tc.offset) || !strings.Contains(rep.Message, tc.msg) {
				t.Fatalf("got %s frame %d offset %d %q\nwant %s frame %d offset %d containing %q", rep.Status, rep.Frame, rep.Offset, rep.Message, tc.status, tc.frame, tc.offset, tc.msg)
			}
			t.Log(rep.Message)
		})
	}
}

// TestVerifyEveryByte flips every byte of a finished recording in turn:
// each flip is detected and located in the part that holds the byte.
func TestVerifyEveryByte(t *testing.T) {
	l := smallRecording(t)
	size := int64(len(l.data))
	sigOff := size - trailerTail
	where := func(off int64) (Status, int) {
		switch {
		case off < l.hdrEnd:
			return StatusTampered, -1
		case off >= sigOff && off < sigOff+SignatureSize:
			return StatusBadSignature, len(l.frames)
		case off >= l.trailer.Offset:
			return StatusTampered, len(l.frames)
		}
		for _, f := range l.frames {
			if off < f.end() {
				return StatusTampered, f.Number
			}
		}
		panic("unreachable")
	}
	for off := range size {
		data := flip(l.data, off)
		rep, err := Verify(bytes.NewReader(data), size, mustPub())
		if err != nil {
			t.Fatal(err)
		}
		status, frame := where(off)
		if rep.Status != status || rep.Frame != frame {
			t.Fatalf("byte %d flipped: %s at frame %d (%s), want %s at frame %d", off, rep.Status, rep.Frame, rep.Message, status, frame)
		}
		// Readers never fail on it beyond a clean error.
		if rd, err := Open(bytes.NewReader(data), size); err == nil {
			for i := range rd.NumFrames() {
				rd.ReadFrame(i)
			}
		}
	}
}

func TestVerifyRejectsBadKey(t *testing.T) {
	l := smallRecording(t)
	if _, err := Verify(bytes.NewReader(l.data), int64(len(l.data)), []byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func TestSignedMessage(t *testing.T) {
	l := smallRecording(t)
	tr := l.trailer
	d := sha256.Sum256(l.data[:l.hdrEnd-4])
	if tr.HeaderDigest != d {
		t.Fatal("trailer header digest is not SHA-256 of the file header")
	}
	if !ed25519.Verify(mustPub(), tr.SignedMessage(), tr.Signature) {
		t.Fatal("signature does not verify over SignedMessage")
	}
	if !bytes.HasPrefix(tr.SignedMessage(), []byte(signatureDomain)) || len(tr.SignedMessage()) != len(signatureDomain)+32+32+8+4+32 {
		t.Fatalf("signed message layout: %d bytes", len(tr.SignedMessage()))
	}
}

// TestVerifyHostileHeaderLength: a header whose length field points past
// the end of a file full of '}' is treated as a torn header, and the
// search for an altered length stays bounded (headerSearch).
func TestVerifyHostileHeaderLength(t *testing.T) {
	data := append([]byte("OPREC\x01\x00\x00\xff\xf0"), bytes.Repeat([]byte("}"), 65000)...)
	rep, err := Verify(bytes.NewReader(data), int64(len(data)), mustPub())
	if err != nil || rep.Status != StatusUnsignedCut || rep.Frame != -1 {
		t.Fatalf("%+v, %v", rep, err)
	}
	keep, err := TruncateTorn(bytes.NewReader(data), int64(len(data)))
	if err != nil || keep != 0 {
		t.Fatalf("TruncateTorn = %d, %v", keep, err)
	}
}
