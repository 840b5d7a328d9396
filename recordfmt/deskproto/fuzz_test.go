package deskproto

import (
	"bytes"
	"errors"
	"image"
	"io"
	"testing"
	"time"
)

// FuzzDecode checks that the Decoder, Renderer and Player never panic on
// any input, that decoding errors wrap ErrMalformed or ErrTruncated, and
// that every accepted event applies to the renderer.
func FuzzDecode(f *testing.F) {
	var small bytes.Buffer
	enc, _ := NewEncoder(&small, Header{Width: 8, Height: 8, Meta: map[string]string{"k": "v"}}, EncoderConfig{KeyframeInterval: time.Millisecond})
	enc.Rect(0, image.Rect(0, 0, 8, 8), pattern(8, 8, 1), 32)
	enc.Copy(time.Millisecond, image.Pt(0, 0), image.Rect(2, 2, 6, 6))
	enc.Pointer(2*time.Millisecond, 3, 3, 1)
	enc.Key(2*time.Millisecond, true, 0x41, 0)
	enc.Clipboard(3*time.Millisecond, ClipToDesktop, 1, []byte("x"))
	enc.Cursor(3*time.Millisecond, image.Pt(0, 0), 1, 1, []byte{1, 2, 3, 4})
	enc.Resize(4*time.Millisecond, 4, 4)
	enc.Close(5 * time.Millisecond)
	f.Add(small.Bytes())
	f.Add([]byte("OPDESK\x01\x06\x00\x00\x01\x00\x00\x00"))
	f.Add([]byte("OPDESK\x01\x06\x02\x02\x01\x00\x00\x00\x03\x00\x05\x00\x00\x01\x01\x01\x02\x03"))
	pixelLimit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			checkErr(t, err)
			return
		}
		r := NewRenderer(d.Header())
		for {
			ev, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkErr(t, err)
				break
			}
			if err := r.Apply(&ev); err != nil {
				t.Fatalf("decoded %s event does not apply: %v", ev.Type, err)
			}
		}
		p, err := NewPlayer(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Duration{0, p.Duration() / 2, p.Duration()} {
			if _, err := p.Frame(at); err != nil {
				checkErr(t, err)
			}
		}
	})
}

func checkErr(t *testing.T, err error) {
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTruncated) {
		t.Fatalf("error %v wraps neither ErrMalformed nor ErrTruncated", err)
	}
}
