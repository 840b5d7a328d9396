package web_test

import (
	"bytes"
	"image"
	"image/color"
	"testing"
	"time"

	"github.com/onepam/onepam/recordfmt/deskproto"
)

// deskRecording is a synthetic 320×240 VNC recording (what the VNC proxy
// writes against an Xvnc painted with xsetroot -solid): black at 0 s; a
// striped red screen drawn as one Rect (zstd-compressed pixels) at 1 s; a
// small square moving every second; the whole screen #3366cc from 12 s;
// the square keeps moving in the top-left corner until 20 s. Keyframes
// come every 2 s of change, so seeking to 15 s decodes from the keyframe
// at 14 s.
func deskRecording(t *testing.T, start time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := deskproto.NewEncoder(&buf, deskproto.Header{Width: 320, Height: 240, Start: start, Meta: map[string]string{"protocol": "vnc"}},
		deskproto.EncoderConfig{KeyframeInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	screen := image.Rect(0, 0, 320, 240)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(enc.Fill(0, screen, color.RGBA{A: 255}))
	red := image.NewRGBA(screen)
	for y := 0; y < 240; y++ {
		for x := 0; x < 320; x++ {
			red.SetRGBA(x, y, color.RGBA{R: 0xcc, G: 0x33, B: 0x33 + uint8(y%2), A: 255})
		}
	}
	must(enc.Rect(time.Second, screen, red.Pix, red.Stride))
	for s := 2; s <= 20; s++ {
		at := time.Duration(s) * time.Second
		if s == 12 {
			must(enc.Fill(at, screen, color.RGBA{R: 0x33, G: 0x66, B: 0xcc, A: 255}))
		}
		sq := image.Rect(s*4, 4, s*4+8, 12)
		must(enc.Fill(at, sq, color.RGBA{R: uint8(s * 10), G: 0xff, A: 255}))
		must(enc.Pointer(at, s*4, 8, 0))
	}
	must(enc.Close(20 * time.Second))
	return buf.Bytes()
}
