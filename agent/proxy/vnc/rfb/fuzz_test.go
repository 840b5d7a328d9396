package rfb

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"testing"
)

// checkHandler checks that every decoded rectangle fits the framebuffer.
type checkHandler struct {
	t    *testing.T
	d    *Decoder
	rect int
}

func (h *checkHandler) Pixels(r image.Rectangle, pix []byte) error {
	w, hh := h.d.Size()
	if !r.In(image.Rect(0, 0, w, hh)) || len(pix) < r.Dx()*r.Dy()*4 {
		h.t.Fatalf("rectangle %v with %d bytes for a %dx%d framebuffer", r, len(pix), w, hh)
	}
	return nil
}
func (h *checkHandler) Copy(src image.Point, r image.Rectangle) error {
	w, hh := h.d.Size()
	if !r.In(image.Rect(0, 0, w, hh)) || !r.Sub(r.Min).Add(src).In(image.Rect(0, 0, w, hh)) {
		h.t.Fatalf("copy %v from %v outside %dx%d", r, src, w, hh)
	}
	return nil
}
func (h *checkHandler) Resize(w, hh int) error {
	if w < 1 || hh < 1 {
		h.t.Fatalf("resize to %dx%d", w, hh)
	}
	return nil
}
func (h *checkHandler) Cursor(_ image.Point, w, hh int, pix []byte) error {
	if len(pix) < w*hh*4 {
		h.t.Fatalf("cursor %dx%d with %d bytes", w, hh, len(pix))
	}
	return nil
}
func (h *checkHandler) CursorPos(int, int) error { return nil }
func (h *checkHandler) DesktopName(string) error { return nil }
func (h *checkHandler) RectDone() error          { h.rect++; return nil }

func rectHeader(x, y, w, h int, enc int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(x))
	b = binary.BigEndian.AppendUint16(b, uint16(y))
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	return binary.BigEndian.AppendUint32(b, uint32(enc))
}

// zrleSeed is an update with one ZRLE rectangle: a solid tile.
func zrleSeed() []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte{1, 0x11, 0x22, 0x33})
	zw.Flush()
	b := append([]byte{0, 0, 1}, rectHeader(0, 0, 8, 8, EncZRLE)...)
	b = binary.BigEndian.AppendUint32(b, uint32(z.Len()))
	return append(b, z.Bytes()...)
}

// FuzzReadUpdate feeds hostile server bytes to the update decoder (64×64,
// 32-bit pixels): it must never panic, never hand out a rectangle outside
// the framebuffer, and fail with ErrProtocol or a read error.
func FuzzReadUpdate(f *testing.F) {
	raw := append(append([]byte{0, 0, 1}, rectHeader(1, 2, 2, 2, EncRaw)...), make([]byte, 16)...)
	hextile := append(append([]byte{0, 0, 1}, rectHeader(0, 0, 20, 20, EncHextile)...), 2|8, 1, 2, 3, 0, 1, 0x00, 0x11, 2, 4, 5, 6, 0, 8, 0x12, 4, 5, 6, 0, 0, 0x00, 0x22)
	rre := append(append([]byte{0, 0, 1}, rectHeader(0, 0, 10, 10, EncRRE)...), 0, 0, 0, 1, 1, 2, 3, 0, 9, 9, 9, 0, 0, 1, 0, 1, 0, 2, 0, 2)
	f.Add(raw)
	f.Add(hextile)
	f.Add(rre)
	f.Add(zrleSeed())
	f.Add(append([]byte{0, 0, 2}, append(rectHeader(0, 0, 8, 8, EncCopyRect), 0, 1, 0, 1)...))
	f.Add(append([]byte{0, 0, 1}, append(rectHeader(1, 1, 2, 2, EncCursor), make([]byte, 18)...)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(64, 64, PF32)
		h := &checkHandler{t: t, d: d}
		s := NewStream(bytes.NewReader(data), false)
		for i := 0; i < 64; i++ {
			err := d.ReadUpdate(s, h)
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrProtocol) && err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v is not a protocol error", err)
			}
			return
		}
	})
}
