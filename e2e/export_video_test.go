package e2e

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/vnc/vnctest"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
)

// TestSessionsExportMP4 exports a real VNC recording (Xvnc through
// `onepam vnc connect`, the screen changing colour three times) with the
// real ffmpeg and checks the video with ffprobe and ffmpeg: its size, its
// frame count and duration (one frame per --every over the whole
// recording), and that the frame ffmpeg decodes at time T is the screen
// `sessions frames --at T` rebuilds (H.264 is lossy: the mean absolute
// difference per channel must be small, and much smaller than between two
// different screens of the recording).
func TestSessionsExportMP4(t *testing.T) {
	for _, p := range []string{"Xvnc", "xsetroot", "ffmpeg", "ffprobe"} {
		requirePeer(t, p)
	}
	srv := vnctest.StartXvnc(t)
	srv.Run(t, "xsetroot", "-solid", "#202020")
	w := newWorld(t, fmt.Sprintf("  - name: desk\n    url: vnc://%s\n", srv.Addr))
	tun := connectType(t, w.admin, "vnc", "desk")

	// A viewer asking for incremental updates all along, as real viewers
	// do, so the recording follows the screen.
	v := startVNCViewer(t, tun.Addr, nil)
	// Four screens, each shown for about a second; the viewer must see
	// each before the next.
	colours := []string{"#d03020", "#20a040", "#2040d0", "#e0e0e0"}
	for _, c := range colours {
		srv.Run(t, "xsetroot", "-solid", c)
		want := parseHex(c)
		e2etest.WaitFor(t, 20*time.Second, "the viewer to show "+c, func() bool { return v.Centre() == want })
		hold(t, time.Second)
	}
	if _, err := v.Stop(); err != nil {
		t.Fatal(err)
	}
	stopConnect(t, tun)
	e2etest.WaitFor(t, 20*time.Second, "recording complete", func() bool {
		return session(t, w.admin, tun.ID).Recording.State == api.RecordingComplete
	})
	var sum struct { // pkg/cli.DesktopSummary
		Width    int     `json:"width"`
		Height   int     `json:"height"`
		Duration float64 `json:"duration"`
	}
	if err := json.Unmarshal([]byte(w.admin.MustRun("sessions", "replay", tun.ID, "-o", "json")), &sum); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	const every = 200 * time.Millisecond
	video := filepath.Join(dir, "s.mp4")
	r := w.admin.Run("sessions", "export", tun.ID, "--format", "mp4", "--every", every.String(), "-o", video)
	if r.Code != 0 {
		t.Fatalf("sessions export --format mp4: exit %d\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "wrote "+video) {
		t.Fatalf("sessions export does not say what it wrote:\n%s", r.Stderr)
	}

	probe := ffprobe(t, video)
	wantFrames := int(time.Duration(sum.Duration*float64(time.Second))/every) + 1
	t.Logf("recording %.3fs %dx%d; video: %+v", sum.Duration, sum.Width, sum.Height, probe)
	if probe.Codec != "h264" || probe.Width != 640 || probe.Height != 480 {
		t.Fatalf("video stream %+v, want h264 640x480", probe)
	}
	if probe.Frames != wantFrames {
		t.Fatalf("video has %d frames, want %d (one every %s over %.3fs)", probe.Frames, wantFrames, every, sum.Duration)
	}
	if d := float64(wantFrames) * every.Seconds(); math.Abs(probe.Duration-d) > every.Seconds()/2 {
		t.Fatalf("video lasts %.3fs, want %.3fs", probe.Duration, d)
	}

	// Compare the video and the recording at every whole second from the
	// first (at 0 the recording holds no screen yet): each shows one of
	// the screens above (or the first, dark one).
	var prev *image.RGBA
	for sec := 1; time.Duration(sec)*time.Second < time.Duration(sum.Duration*float64(time.Second)); sec++ {
		at := time.Duration(sec) * time.Second
		t.Run("frame at "+at.String(), func(t *testing.T) {
			got := videoFrame(t, video, at)
			frame := strings.TrimSpace(w.admin.MustRun("sessions", "frames", tun.ID, t.TempDir(), "--at", at.String()))
			want := vnctest.ReadPNG(t, frame)
			mad := meanAbsDiff(t, got, want)
			t.Logf("at %s: mean absolute difference %.2f (screen centre video %v, recording %v)", at, mad, got.RGBAAt(320, 240), want.RGBAAt(320, 240))
			if mad > 4 {
				t.Fatalf("the video's frame at %s differs from the recording's screen by %.2f per channel on average (want ≤ 4)", at, mad)
			}
			if prev != nil && prev.RGBAAt(320, 240) != want.RGBAAt(320, 240) {
				// Different screens differ by far more than the codec's loss,
				// so the comparison above can tell them apart.
				if d := meanAbsDiff(t, got, prev); d < 20 {
					t.Fatalf("the video's frame at %s is within %.2f of a different screen", at, d)
				}
			}
			prev = want
		})
	}
}

// parseHex reads "#rrggbb".
func parseHex(s string) color.RGBA {
	v, _ := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 255}
}

// videoProbe is what ffprobe says of a video's first stream.
type videoProbe struct {
	Codec         string
	Width, Height int
	Frames        int     // decoded frames (-count_frames)
	Duration      float64 // seconds
}

func ffprobe(t *testing.T, path string) videoProbe {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p struct {
		Streams []struct {
			Codec  string `json:"codec_name"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
			Frames string `json:"nb_read_frames"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) != 1 {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	s := p.Streams[0]
	n, _ := strconv.Atoi(s.Frames)
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return videoProbe{Codec: s.Codec, Width: s.Width, Height: s.Height, Frames: n, Duration: d}
}

// videoFrame is the frame ffmpeg decodes at time at (accurate seek).
func videoFrame(t *testing.T, video string, at time.Duration) *image.RGBA {
	t.Helper()
	out := filepath.Join(t.TempDir(), "v.png")
	if b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", strconv.FormatFloat(at.Seconds(), 'f', 3, 64),
		"-i", video, "-frames:v", "1", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg frame at %s: %v\n%s", at, err, b)
	}
	return vnctest.ReadPNG(t, out)
}

// meanAbsDiff is the mean absolute difference of the RGB channels of two
// images of the same size, on the 0–255 scale.
func meanAbsDiff(t *testing.T, a, b *image.RGBA) float64 {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("image sizes %v and %v differ", a.Bounds().Size(), b.Bounds().Size())
	}
	var sum int64
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			i := a.PixOffset(x+a.Rect.Min.X, y+a.Rect.Min.Y)
			j := b.PixOffset(x+b.Rect.Min.X, y+b.Rect.Min.Y)
			for k := 0; k < 3; k++ {
				d := int64(a.Pix[i+k]) - int64(b.Pix[j+k])
				if d < 0 {
					d = -d
				}
				sum += d
			}
		}
	}
	return float64(sum) / float64(3*a.Bounds().Dx()*a.Bounds().Dy())
}
