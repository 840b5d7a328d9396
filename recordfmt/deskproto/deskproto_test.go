package deskproto

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// pattern returns w×h RGBA pixels of a gradient seeded by s.
func pattern(w, h, s int) []byte {
	pix := make([]byte, w*h*4)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := (y*w + x) * 4
			pix[o], pix[o+1], pix[o+2], pix[o+3] = byte(x*7+s), byte(y*5+s*3), byte((x^y)+s), 0xff
		}
	}
	return pix
}

// script is a synthetic session: it drives an Encoder and, in step, a
// reference image drawn with the image package.
type script struct {
	enc *Encoder
	ref *image.RGBA
}

func (s *script) rect(t time.Duration, r image.Rectangle, seed int) error {
	pix := pattern(r.Dx(), r.Dy(), seed)
	putRGBA(s.ref, r, pix, r.Dx()*4)
	return s.enc.Rect(t, r, pix, r.Dx()*4)
}

func (s *script) fill(t time.Duration, r image.Rectangle, c color.RGBA) error {
	fill(s.ref, r, c)
	return s.enc.Fill(t, r, c)
}

func (s *script) copy(t time.Duration, src image.Point, r image.Rectangle) error {
	tmp := image.NewRGBA(r.Sub(r.Min))
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			tmp.SetRGBA(x, y, s.ref.RGBAAt(src.X+x, src.Y+y))
		}
	}
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			s.ref.SetRGBA(r.Min.X+x, r.Min.Y+y, tmp.RGBAAt(x, y))
		}
	}
	return s.enc.Copy(t, src, r)
}

// basicRecording writes a small recording using every event type and
// returns it with the reference screen at its end.
func basicRecording(t *testing.T) ([]byte, *image.RGBA) {
	t.Helper()
	var buf bytes.Buffer
	hdr := Header{Width: 64, Height: 48, Start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Meta: map[string]string{"session_id": "s-1", "protocol": "vnc"}}
	enc, err := NewEncoder(&buf, hdr, EncoderConfig{KeyframeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s := &script{enc: enc, ref: newScreen(64, 48)}
	ms := time.Millisecond
	steps := []func() error{
		func() error { return enc.Meta(0, "desktop_name", "test desktop") },
		func() error { return s.fill(10*ms, image.Rect(0, 0, 64, 48), color.RGBA{0x33, 0x66, 0xcc, 0xff}) },
		func() error { return s.rect(20*ms, image.Rect(4, 4, 36, 28), 1) },
		func() error { return s.rect(30*ms, image.Rect(40, 30, 42, 31), 2) }, // tiny: stored raw
		func() error { return s.copy(40*ms, image.Pt(4, 4), image.Rect(10, 8, 42, 32)) },
		func() error { return enc.Pointer(50*ms, 12, 13, 1) },
		func() error { return enc.Key(60*ms, true, 0x61, 0) },
		func() error { return enc.Key(70*ms, false, 0x61, 0x1e) },
		func() error { return enc.Clipboard(80*ms, ClipToPerson, len("hello ✓"), []byte("hello ✓")) },
		func() error { return enc.Cursor(90*ms, image.Pt(1, 2), 2, 2, pattern(2, 2, 9)) },
		func() error { return enc.CursorPos(95*ms, 30, 20) },
		func() error { return enc.Bell(100 * ms) },
		func() error { return s.rect(1200*ms, image.Rect(0, 40, 64, 48), 3) }, // keyframe due after this
		func() error { return s.fill(1300*ms, image.Rect(50, 0, 64, 10), color.RGBA{0xff, 0xcc, 0, 0xff}) },
		func() error { return enc.Error(1400*ms, "test error") },
		func() error { return enc.Close(1500 * ms) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	return buf.Bytes(), s.ref
}

func decodeAll(t *testing.T, data []byte) (Header, []Event) {
	t.Helper()
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ev.Pix = append([]byte(nil), ev.Pix...)
		evs = append(evs, ev)
	}
	return d.Header(), evs
}

func TestRoundTrip(t *testing.T) {
	data, ref := basicRecording(t)
	hdr, evs := decodeAll(t, data)
	if hdr.Width != 64 || hdr.Height != 48 || hdr.Meta["session_id"] != "s-1" || !hdr.Start.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) || hdr.KeyframeInterval != time.Second {
		t.Fatalf("header %+v", hdr)
	}
	var types []EventType
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	want := []EventType{EventMeta, EventFill, EventRect, EventRect, EventCopy, EventPointer, EventKey, EventKey, EventClipboard, EventCursor, EventCursorPos, EventBell, EventRect, EventKeyframe, EventCursor, EventFill, EventError, EventEnd}
	if len(types) != len(want) {
		t.Fatalf("types %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("types %v, want %v", types, want)
		}
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"meta", evs[0].Key == "desktop_name" && evs[0].Text == "test desktop"},
		{"fill", evs[1].T == 10*time.Millisecond && evs[1].Color == color.RGBA{0x33, 0x66, 0xcc, 0xff} && evs[1].W == 64},
		{"copy", evs[4].SrcX == 4 && evs[4].SrcY == 4 && evs[4].X == 10 && evs[4].Y == 8 && evs[4].W == 32 && evs[4].H == 24},
		{"pointer", evs[5].X == 12 && evs[5].Y == 13 && evs[5].Buttons == 1},
		{"key down", evs[6].Down && evs[6].Keysym == 0x61 && evs[6].Scancode == 0},
		{"key up", !evs[7].Down && evs[7].Scancode == 0x1e},
		{"clipboard", evs[8].Dir == ClipToPerson && evs[8].Text == "hello ✓" && evs[8].Size == len("hello ✓")},
		{"cursor", evs[9].X == 1 && evs[9].Y == 2 && evs[9].W == 2 && bytes.Equal(evs[9].Pix, pattern(2, 2, 9))},
		{"keyframe", evs[13].T == 1200*time.Millisecond && evs[13].PointerX == 30 && evs[13].PointerY == 20},
		{"cursor after keyframe", evs[14].T == evs[13].T && evs[14].W == 2},
		{"error", evs[16].Text == "test error"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("%s event not as written", c.name)
			}
		})
	}
	r := NewRenderer(hdr)
	for i := range evs {
		if err := r.Apply(&evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(r.Image().Pix, ref.Pix) {
		t.Fatal("rendered screen differs from the reference")
	}
}

func TestGolden(t *testing.T) {
	data, ref := basicRecording(t)
	golden := filepath.Join("testdata", "basic.deskproto")
	goldenPNG := filepath.Join("testdata", "basic-end.png")
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := png.Encode(&b, ref); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPNG, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("encoding differs from %s (run go test -update if the format changed on purpose)", golden)
	}
	f, err := os.Open(goldenPNG)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlayer(bytes.NewReader(want), int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := p.ExportPNG(p.Duration(), &out); err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(&out)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffPixels(got, img); d != 0 {
		t.Errorf("frame at the end of %s differs from %s in %d pixels", golden, goldenPNG, d)
	}
}

func diffPixels(a, b image.Image) int {
	if a.Bounds() != b.Bounds() {
		return a.Bounds().Dx() * a.Bounds().Dy()
	}
	n := 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				n++
			}
		}
	}
	return n
}

// longRecording simulates a ten-minute session with a change every 100 ms
// and returns it with the reference screen after each second.
func longRecording(t testing.TB, minutes int) ([]byte, map[time.Duration][]byte) {
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, Header{Width: 80, Height: 60}, EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s := &script{enc: enc, ref: newScreen(80, 60)}
	snaps := map[time.Duration][]byte{}
	step := 100 * time.Millisecond
	for i := 0; time.Duration(i)*step <= time.Duration(minutes)*time.Minute; i++ {
		at := time.Duration(i) * step
		x, y := (i*7)%64, (i*3)%48
		var err error
		switch i % 3 {
		case 0:
			err = s.rect(at, image.Rect(x, y, x+16, y+12), i)
		case 1:
			err = s.fill(at, image.Rect(y, x/2, y+10, x/2+10), color.RGBA{byte(i), byte(i * 3), 0x80, 0xff})
		default:
			err = s.copy(at, image.Pt(x/2, y/2), image.Rect(y, x/3, y+20, x/3+9))
		}
		if err != nil {
			t.Fatal(err)
		}
		if at%time.Second == 0 {
			snaps[at] = append([]byte(nil), s.ref.Pix...)
		}
	}
	if err := enc.Close(time.Duration(minutes) * time.Minute); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), snaps
}

func TestSeek(t *testing.T) {
	data, snaps := longRecording(t, 10)
	p, err := NewPlayer(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Keyframes()) < 50 || !p.Complete() || p.Cut() != nil || p.Duration() != 10*time.Minute {
		t.Fatalf("%d keyframes, complete %v, cut %v, duration %v", len(p.Keyframes()), p.Complete(), p.Cut(), p.Duration())
	}
	for _, at := range []time.Duration{9 * time.Minute, 30 * time.Second, 0, 5 * time.Second, 9*time.Minute + 59*time.Second, 9*time.Minute + 5*time.Second} {
		t.Run(at.String(), func(t *testing.T) {
			img, err := p.Frame(at)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(img.Pix, snaps[at]) {
				t.Fatalf("frame at %v differs from the screen drawn then", at)
			}
			st := p.Stats()
			if at >= 10*time.Second && (st.Keyframes > 1 || st.From > at || st.Events > 130) {
				t.Errorf("seek to %v decoded %d events and %d keyframes from %v", at, st.Events, st.Keyframes, st.From)
			}
		})
	}
	// The same frame by replay from the start.
	d, err := NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRenderer(d.Header())
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.T > 9*time.Minute {
			break
		}
		if err := r.Apply(&ev); err != nil {
			t.Fatal(err)
		}
	}
	img, _ := p.Frame(9 * time.Minute)
	if !bytes.Equal(img.Pix, r.Image().Pix) {
		t.Fatal("SeekTo(9m) differs from replay from the start")
	}
}

func TestTruncated(t *testing.T) {
	data, _ := basicRecording(t)
	hdrLen := 0
	if d, err := NewDecoder(bytes.NewReader(data)); err == nil {
		hdrLen = int(d.Offset())
	}
	for n := 0; n < len(data); n++ {
		cut := data[:n]
		p, err := NewPlayer(bytes.NewReader(cut), int64(n))
		if n < hdrLen {
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("cut at %d (inside the header): %v", n, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut at %d: %v", n, err)
		}
		if p.Complete() {
			t.Fatalf("cut at %d: complete", n)
		}
		if _, err := p.Frame(time.Hour); err != nil {
			t.Fatalf("cut at %d: frame: %v", n, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	data, _ := basicRecording(t)
	cases := []struct {
		name string
		data []byte
	}{
		{"bad magic", append([]byte("XXDESK"), data[6:]...)},
		{"bad version", append(append([]byte("OPDESK"), 9), data[7:]...)},
		{"rect outside", append(append([]byte(nil), data...), byte(EventRect), 0, 5, 60, 0, 10, 1, 0)},
		{"trailing bytes in body", append(append([]byte(nil), data[:len(data)-3]...), byte(EventBell), 0, 1, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDecoder(bytes.NewReader(c.data))
			for err == nil {
				_, err = d.Next()
			}
			if err == io.EOF || !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want a malformed error", err)
			}
		})
	}
}

func TestExportFrames(t *testing.T) {
	data, _ := basicRecording(t)
	p, err := NewPlayer(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := p.ExportFrames(500*time.Millisecond, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 4 || filepath.Base(paths[3]) != "frame-000003.png" {
		t.Fatalf("paths %v", paths)
	}
	f, err := os.Open(paths[3])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := p.Frame(1500 * time.Millisecond)
	if diffPixels(img, want) != 0 {
		t.Fatal("exported frame differs from Frame")
	}

	// An interval longer than the recording still gives the last screen.
	long, err := p.ExportFrames(time.Hour, t.TempDir())
	if err != nil || len(long) == 0 {
		t.Fatalf("ExportFrames(1h): %v %v", long, err)
	}
	f2, err := os.Open(long[len(long)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	last, err := png.Decode(f2)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := p.Frame(p.Duration())
	if diffPixels(last, end) != 0 {
		t.Fatal("the last exported frame is not the end of the recording")
	}
}

// TestConcurrentEncoder writes input and updates from two goroutines (run
// with -race) and checks every event arrives with times in order.
func TestConcurrentEncoder(t *testing.T) {
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, Header{Width: 32, Height: 32}, EncoderConfig{KeyframeInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if err := enc.Pointer(time.Duration(i)*time.Millisecond, i%32, i%32, 0); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			if err := enc.Rect(time.Duration(i)*time.Millisecond, image.Rect(0, 0, 8, 8), pattern(8, 8, i), 32); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	if err := enc.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	_, evs := decodeAll(t, buf.Bytes())
	var pointers, rects int
	var last time.Duration
	for _, ev := range evs {
		if ev.T < last {
			t.Fatalf("time went back from %v to %v", last, ev.T)
		}
		last = ev.T
		switch ev.Type {
		case EventPointer:
			pointers++
		case EventRect:
			rects++
		}
	}
	if pointers != 200 || rects != 200 {
		t.Fatalf("%d pointer and %d rect events, want 200 each", pointers, rects)
	}
}

func BenchmarkEncodeFullScreen(b *testing.B) {
	frames := [][]byte{pattern(1280, 720, 1), pattern(1280, 720, 2)}
	enc, err := NewEncoder(io.Discard, Header{Width: 1280, Height: 720}, EncoderConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1280 * 720 * 4)
	for i := 0; i < b.N; i++ {
		if err := enc.Rect(time.Duration(i)*time.Millisecond, image.Rect(0, 0, 1280, 720), frames[i%2], 1280*4); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSeek(b *testing.B) {
	data, _ := longRecording(b, 10)
	p, err := NewPlayer(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := p.Frame(time.Duration(i%600) * time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
