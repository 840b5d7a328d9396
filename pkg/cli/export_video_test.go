package cli

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

func TestSessionsExportGIF(t *testing.T) {
	e := recordedEnv(t)
	tests := []struct {
		name   string
		every  string
		delays []int // hundredths of a second
	}{
		// The fixture: blue from 0, left half red from 2s, ends at 3s.
		{"default 200ms", "", []int{200, 100}},
		{"every 1s", "1s", []int{200, 100}},
		{"every 700ms samples 0, 0.7, 1.4, 2.1, 2.8", "700ms", []int{210, 90}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.gif")
			args := []string{"sessions", "export", vncSessionID, "--format", "gif", "-o", path}
			if tt.every != "" {
				args = append(args, "--every", tt.every)
			}
			if code := e.run(t, args...); code != 0 {
				t.Fatalf("exit %d: %s", code, e.errOut)
			}
			mustContain(t, e.errOut.String(), "wrote "+path)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			g, err := gif.DecodeAll(f)
			if err != nil {
				t.Fatal(err)
			}
			if g.LoopCount != 0 {
				t.Fatalf("loop count %d, want 0 (forever)", g.LoopCount)
			}
			if len(g.Image) != len(tt.delays) {
				t.Fatalf("%d frames, want %d", len(g.Image), len(tt.delays))
			}
			for i, d := range tt.delays {
				if g.Delay[i] != d {
					t.Fatalf("delays %v, want %v", g.Delay, tt.delays)
				}
			}
			if b := g.Image[0].Bounds(); b.Dx() != 64 || b.Dy() != 48 {
				t.Fatalf("frame size %v", b)
			}
			if r, _, b, _ := g.Image[1].At(10, 10).RGBA(); r>>8 != 255 || b != 0 {
				t.Fatalf("second frame's left half is %v, want red", g.Image[1].At(10, 10))
			}
			if _, _, b, _ := g.Image[0].At(10, 10).RGBA(); b>>8 != 255 {
				t.Fatalf("first frame is %v, want blue", g.Image[0].At(10, 10))
			}
		})
	}
}

func TestSessionsExportDeskproto(t *testing.T) {
	e := recordedEnv(t)
	path := filepath.Join(t.TempDir(), "s.dpr")
	if code := e.run(t, "sessions", "export", vncSessionID, "--format", "deskproto", "-o", path); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, deskprotoFixture(t)) {
		t.Fatal("the deskproto export is not the recording's stream")
	}
	tests := []struct {
		name, format, want string
	}{
		{"deskproto of a db session", "deskproto", "only for desktop sessions"},
		{"gif of a db session", "gif", "only for desktop sessions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := e.run(t, "sessions", "export", dbSessionID, "--format", tt.format, "-o", filepath.Join(t.TempDir(), "x")); code != cmdutil.ExitError {
				t.Fatalf("exit %d", code)
			}
			mustContain(t, e.errOut.String(), tt.want)
		})
	}
}

func TestSessionsExportMP4(t *testing.T) {
	t.Run("without ffmpeg", func(t *testing.T) {
		e := recordedEnv(t)
		t.Setenv("PATH", t.TempDir())
		path := filepath.Join(t.TempDir(), "out.mp4")
		if code := e.run(t, "sessions", "export", vncSessionID, "--format", "mp4", "-o", path); code != cmdutil.ExitError {
			t.Fatalf("exit %d", code)
		}
		mustContain(t, e.errOut.String(), "needs ffmpeg", "apt install ffmpeg", "--format gif")
	})
	t.Run("frames piped to ffmpeg", func(t *testing.T) {
		// A stand-in ffmpeg that keeps what it is given: the arguments and
		// the PNG stream, so the test sees what a real ffmpeg would read.
		bin := t.TempDir()
		script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$FAKE_FFMPEG_DIR/args\"\ncat > \"$FAKE_FFMPEG_DIR/stdin\"\n"
		if err := os.WriteFile(filepath.Join(bin, "ffmpeg"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		t.Setenv("FAKE_FFMPEG_DIR", dir)
		e := recordedEnv(t)
		out := filepath.Join(t.TempDir(), "out.mp4")
		if code := e.run(t, "sessions", "export", vncSessionID, "--format", "mp4", "--every", "500ms", "-o", out); code != 0 {
			t.Fatalf("exit %d: %s", code, e.errOut)
		}
		args, err := os.ReadFile(filepath.Join(dir, "args"))
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, string(args), "image2pipe\n-framerate\n2\n-i\n-\n", "yuv420p", out)
		stream, err := os.ReadFile(filepath.Join(dir, "stdin"))
		if err != nil {
			t.Fatal(err)
		}
		r := bytes.NewReader(stream)
		n := 0
		for r.Len() > 0 {
			if _, err := png.Decode(r); err != nil {
				t.Fatalf("frame %d: %v", n, err)
			}
			n++
		}
		if n != 7 { // 0, 0.5, ..., 3s
			t.Fatalf("%d PNG frames piped, want 7", n)
		}
		if strings.Contains(e.errOut.String(), "needs ffmpeg") {
			t.Fatal(e.errOut)
		}
	})
}

// TestWriteMP4RealFFmpeg runs writeMP4 with the real ffmpeg (Debian
// package ffmpeg; in CI a missing ffmpeg fails the test) on a recording
// whose first screen comes 500 ms after its start: the video has one
// frame per interval over the whole recording, black before the first
// screen, so frame i shows the screen at i×every.
func TestWriteMP4RealFFmpeg(t *testing.T) {
	for _, prog := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(prog); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (CI=true: a missing peer is a failure; ./scripts/test installs it)", prog)
			}
			t.Skipf("%s is not installed; ./scripts/test installs it", prog)
		}
	}
	var rec bytes.Buffer
	enc, err := deskproto.NewEncoder(&rec, deskproto.Header{}, deskproto.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		enc.Resize(500*time.Millisecond, 64, 48),
		enc.Fill(500*time.Millisecond, image.Rect(0, 0, 64, 48), color.RGBA{0, 0, 255, 255}),
		enc.Fill(1500*time.Millisecond, image.Rect(0, 0, 32, 48), color.RGBA{255, 0, 0, 255}),
		enc.Close(2 * time.Second),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	p, err := deskproto.NewPlayer(bytes.NewReader(rec.Bytes()), int64(rec.Len()))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "out.mp4")
	if err := writeMP4(context.Background(), io.Discard, path, p, 250*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	// 0, 0.25, ..., 2s: 9 frames; 64×48 is even, so not padded.
	if got := strings.TrimSpace(string(out)); got != "h264,64,48,9" {
		t.Fatalf("ffprobe: %q, want h264,64,48,9", got)
	}
	tests := []struct {
		at          string
		left, right color.RGBA
	}{
		{"0.250", color.RGBA{0, 0, 0, 255}, color.RGBA{0, 0, 0, 255}},
		{"1.000", color.RGBA{0, 0, 255, 255}, color.RGBA{0, 0, 255, 255}},
		{"1.750", color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}},
	}
	for _, tt := range tests {
		t.Run("frame at "+tt.at, func(t *testing.T) {
			frame := filepath.Join(t.TempDir(), "f.png")
			if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-ss", tt.at, "-i", path, "-frames:v", "1", frame).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, b)
			}
			f, err := os.Open(frame)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			// H.264 in yuv420p is lossy: allow a few levels per channel.
			for _, c := range []struct {
				x    int
				want color.RGBA
			}{{8, tt.left}, {56, tt.right}} {
				r, g, b, _ := img.At(c.x, 24).RGBA()
				got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
				want := [3]int{int(c.want.R), int(c.want.G), int(c.want.B)}
				for k := range got {
					if d := got[k] - want[k]; d > 12 || d < -12 {
						t.Fatalf("pixel %d,24 at %ss is %v, want about %v", c.x, tt.at, got, want)
					}
				}
			}
		})
	}
}
