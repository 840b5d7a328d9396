package e2e

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
)

// Helpers shared by the desktop (VNC and RDP) benchmarks: what the
// person's screen shows, read straight from the client display's
// framebuffer; the agent's CPU and memory over a window; the stored size
// of a recording; a test video and a typist.
//
//	ONEPAM_BENCH_ROUNDS         interleaved pairs (default 5, after a warm-up pair)
//	ONEPAM_BENCH_DESK_SECS      length of a recording-rate session's activity (default 60)
//	ONEPAM_BENCH_LOAD_SECS      length of an agent-load window (default 20)
//	ONEPAM_BENCH_LATENCY_N      latency samples per path per round (default 100)

func benchEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// fbDisplay is an Xvfb display whose framebuffer the test reads from
// memory: Xvfb -fbdir keeps the screen in an XWD file that it maps
// shared, so what a client draws is readable at once without a round trip
// to the X server (which would compete with the client being measured).
type fbDisplay struct {
	Name         string // ":N"
	mem          []byte
	pix          int // offset of the first pixel
	stride       int // bytes per line
	width, heigh int
}

// startFBDisplay starts Xvfb (1024×768, 24 bits) with its framebuffer in
// a file and maps it.
func startFBDisplay(tb testing.TB) *fbDisplay {
	tb.Helper()
	n := 800 + os.Getpid()%150
	for ; ; n++ {
		_, e1 := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n))
		_, e2 := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		if e1 != nil && e2 != nil {
			break
		}
	}
	dir := tb.TempDir()
	disp := fmt.Sprintf(":%d", n)
	p := e2etest.Start(tb, "Xvfb"+disp, nil, "Xvfb", disp, "-screen", "0", "1024x768x24", "-fbdir", dir, "-nolisten", "tcp", "-noreset")
	e2etest.WaitFor(tb, 20*time.Second, "Xvfb "+disp, func() bool {
		_, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		return err == nil || p.Exited()
	})
	if p.Exited() {
		tb.Fatalf("Xvfb %s exited:\n%s", disp, p.Output())
	}
	path := filepath.Join(dir, "Xvfb_screen0")
	e2etest.WaitFor(tb, 20*time.Second, "Xvfb's framebuffer file", func() bool {
		st, err := os.Stat(path)
		return err == nil && st.Size() >= 1024*768*4
	})
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = syscall.Munmap(mem) })
	// XWD header: 25 big-endian CARD32 (header_size, file_version,
	// pixmap_format, pixmap_depth, pixmap_width, pixmap_height, xoffset,
	// byte_order, bitmap_unit, bitmap_bit_order, bitmap_pad,
	// bits_per_pixel, bytes_per_line, visual_class, red_mask, green_mask,
	// blue_mask, bits_per_rgb, colormap_entries, ncolors, ...), the window
	// name up to header_size, ncolors 12-byte colours, then the pixels.
	u := func(i int) int { return int(binary.BigEndian.Uint32(mem[4*i:])) }
	if u(11) != 32 || u(7) != 0 || u(14) != 0xff0000 || u(16) != 0xff {
		tb.Fatalf("Xvfb framebuffer: %d bits per pixel, byte order %d, masks %x/%x: want 32, LSB first, RGB", u(11), u(7), u(14), u(16))
	}
	return &fbDisplay{Name: disp, mem: mem, pix: u(0) + 12*u(19), stride: u(12), width: u(4), heigh: u(5)}
}

// At is the pixel at x, y.
func (d *fbDisplay) At(x, y int) color.RGBA {
	i := d.pix + y*d.stride + 4*x
	return color.RGBA{R: d.mem[i+2], G: d.mem[i+1], B: d.mem[i], A: 255}
}

// Hash summarises r sampling every step-th pixel in both directions.
func (d *fbDisplay) Hash(r image.Rectangle, step int) uint64 {
	h := uint64(14695981039346656037)
	for y := r.Min.Y; y < r.Max.Y; y += step {
		row := d.pix + y*d.stride
		for x := r.Min.X; x < r.Max.X; x += step {
			i := row + 4*x
			h ^= uint64(d.mem[i]) | uint64(d.mem[i+1])<<8 | uint64(d.mem[i+2])<<16
			h *= 1099511628211
		}
	}
	return h
}

// windowRect is where window win lies on display.
func windowRect(tb testing.TB, display, win string) image.Rectangle {
	tb.Helper()
	out := xdo(tb, display, "getwindowgeometry", "--shell", win)
	v := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		k, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok {
			v[k], _ = strconv.Atoi(val)
		}
	}
	return image.Rect(v["X"], v["Y"], v["X"]+v["WIDTH"], v["Y"]+v["HEIGHT"])
}

// changeCounter counts how often what r shows changes, sampling it every
// millisecond (every 4th pixel each way) until stopped.
type changeCounter struct {
	n    atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func countChanges(d *fbDisplay, r image.Rectangle) *changeCounter {
	c := &changeCounter{stop: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		last := d.Hash(r, 4)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			if h := d.Hash(r, 4); h != last {
				last = h
				c.n.Add(1)
			}
		}
	}()
	return c
}

// Stop ends the sampling and returns the number of changes seen.
func (c *changeCounter) Stop() int64 {
	close(c.stop)
	c.wg.Wait()
	return c.n.Load()
}

// near reports whether two colours differ by at most fuzz per channel.
func near(a, b color.RGBA, fuzz int) bool {
	for _, d := range []int{int(a.R) - int(b.R), int(a.G) - int(b.G), int(a.B) - int(b.B)} {
		if d > fuzz || -d > fuzz {
			return false
		}
	}
	return true
}

// drawLatency changes the server's root window colour (xsetroot -solid
// on serverDisplay, alternating two colours) and returns the times from
// xsetroot's exit (XCloseDisplay has synced: the server has drawn) until
// seen(colour) reports the person's screen shows it, one per sample.
func drawLatency(tb testing.TB, serverDisplay string, samples int, seen func(color.RGBA) bool) []float64 {
	tb.Helper()
	colours := []string{"#c02030", "#2060d0"}
	var ms []float64
	for i := 0; i < samples; i++ {
		c := colours[i%2]
		cmd := exec.Command("xsetroot", "-solid", c)
		cmd.Env = append(os.Environ(), "DISPLAY="+serverDisplay)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("xsetroot: %v\n%s", err, out)
		}
		t0 := time.Now()
		want := parseHex(c)
		deadline := t0.Add(20 * time.Second)
		for !seen(want) {
			if time.Now().After(deadline) {
				tb.Fatalf("the person's screen did not show %s within 20 s", c)
			}
			time.Sleep(250 * time.Microsecond)
		}
		ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
	}
	return ms
}

// interleaveLatency runs rounds of samples through and direct (each
// sample function returns latencies in ms, larger is worse) after a
// warm-up, and prints median and p99 of each path and their differences.
func interleaveLatency(b *testing.B, what string, through, direct func() []float64) {
	b.Helper()
	through()
	direct()
	var ts, ds []float64
	for i := 0; i < benchRounds(); i++ {
		ts = append(ts, through()...)
		ds = append(ds, direct()...)
	}
	st, sd := e2etest.Summarize(ts), e2etest.Summarize(ds)
	fmt.Printf("%s, %d rounds, %d samples a path:\n  onepam median %.1f ms, p99 %.1f ms (min %.1f, max %.1f)\n  direct median %.1f ms, p99 %.1f ms (min %.1f, max %.1f)\n  added  median %+.1f ms, p99 %+.1f ms\n",
		what, benchRounds(), len(ts), st.Median, st.P99, st.Min, st.Max, sd.Median, sd.P99, sd.Min, sd.Max, st.Median-sd.Median, st.P99-sd.P99)
	b.ReportMetric(st.Median-sd.Median, "added-ms")
}

// procUsage is a process's CPU share and memory over a window.
type procUsage struct {
	CPU      float64 // CPU time / wall time, in % of one core
	RSS, HWM int64   // KiB at the window's end
}

// measureUsage samples pid's CPU time over d and its memory at the end.
func measureUsage(tb testing.TB, pid int, d time.Duration) procUsage {
	tb.Helper()
	c0, t0 := e2etest.CPUTime(pid), time.Now()
	until := t0.Add(d)
	e2etest.WaitFor(tb, d+10*time.Second, "the measuring window", func() bool { return time.Now().After(until) })
	c1, el := e2etest.CPUTime(pid), time.Since(t0)
	rss, hwm := e2etest.RSS(pid)
	return procUsage{CPU: 100 * (c1 - c0).Seconds() / el.Seconds(), RSS: rss, HWM: hwm}
}

// reportLoad prints and reports the agent's per-session figures: n
// sessions against the idle agent before them.
func reportLoad(b *testing.B, what string, n int, idle, busy procUsage, extra string) {
	b.Helper()
	per := (busy.CPU - idle.CPU) / float64(n)
	mib := float64(busy.RSS-idle.RSS) / 1024 / float64(n)
	fmt.Printf("%s, %d session(s): agent idle %.1f%% CPU, RSS %.1f MiB; busy %.1f%% CPU, RSS %.1f MiB (peak %.1f MiB)\n  per session: %.1f%% of a core, %.1f MiB%s\n",
		what, n, idle.CPU, float64(idle.RSS)/1024, busy.CPU, float64(busy.RSS)/1024, float64(busy.HWM)/1024, per, mib, extra)
	b.ReportMetric(per, fmt.Sprintf("cpu%%/session@%d", n))
	b.ReportMetric(mib, fmt.Sprintf("MiB/session@%d", n))
}

// testVideo makes a 10 s 640×480 25 fps H.264 video with ffmpeg: its
// test pattern (moving gradients, colour bars, a timer), with grain
// (temporal noise over every pixel, as a camera and a lossy codec leave in
// real video, so every pixel changes every frame: the worst case for a
// lossless recording) or without (flat colours: the best case).
func testVideo(tb testing.TB, grain bool) string {
	tb.Helper()
	src := "testsrc2=size=640x480:rate=25"
	if grain {
		src += ",noise=alls=12:allf=t"
	}
	path := filepath.Join(tb.TempDir(), "video.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
		"-i", src, "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", path).CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg test video: %v\n%s", err, out)
	}
	return path
}

// playVideo plays video full-screen (640×480 at 0,0, looping, no sound)
// on display with ffplay until the test ends.
func playVideo(tb testing.TB, display, video string) *e2etest.Proc {
	tb.Helper()
	return e2etest.Start(tb, "ffplay", []string{"DISPLAY=" + display, "SDL_VIDEODRIVER=x11", "SDL_AUDIODRIVER=dummy"},
		"ffplay", "-hide_banner", "-loglevel", "error", "-an", "-noborder", "-left", "0", "-top", "0", "-x", "640", "-y", "480", "-loop", "0", video)
}

// typingText is what the typist types: prose, as into a document or a
// shell, with a new line now and then.
const typingText = "The quick brown fox jumps over the lazy dog while the gateway records every pixel of it. " +
	"Sessions are recorded so that an auditor can replay them later and see what was typed. "

// typingRate is the typist's pace: 5 characters a second.
const typingRate = 5

// typingKeys is the typist's text of n characters as keysym names (a
// new line every 60 characters).
func typingKeys(n int) []string {
	var keys []string
	for i := 0; i < n; i++ {
		c := typingText[i%len(typingText)]
		switch {
		case i%60 == 59:
			keys = append(keys, "Return")
		case c == ' ':
			keys = append(keys, "space")
		case c == '.':
			keys = append(keys, "period")
		default:
			keys = append(keys, string(c))
		}
	}
	return keys
}

// xdotoolTyping is an xdotool script (run as `xdotool -`) typing keys at
// typingRate.
func xdotoolTyping(keys []string) string {
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "key %s\nsleep %g\n", k, 1.0/typingRate)
	}
	return b.String()
}

// recordedRate waits for a session's recording to be complete and
// returns its stored size per minute of session (keyframes and the first
// full screen included) and the session's length.
func recordedRate(tb testing.TB, u *e2etest.User, id string) (perMin float64, size int64, dur time.Duration) {
	tb.Helper()
	var s api.Session
	e2etest.WaitFor(tb, 60*time.Second, "recording of "+id+" complete", func() bool {
		s = session(tb, u, id)
		return s.Recording.State == api.RecordingComplete
	})
	hdr, evs, _ := exportEvents(tb, u, id)
	_ = hdr
	if len(evs) == 0 {
		tb.Fatalf("the recording of %s holds no events", id)
	}
	dur = evs[len(evs)-1].T
	return float64(s.Recording.Size) / dur.Minutes(), s.Recording.Size, dur
}

// hold waits d (a measuring window, not a wait for a condition).
func hold(tb testing.TB, d time.Duration) {
	tb.Helper()
	until := time.Now().Add(d)
	e2etest.WaitFor(tb, d+10*time.Second, fmt.Sprintf("%s of activity", d), func() bool { return time.Now().After(until) })
}
