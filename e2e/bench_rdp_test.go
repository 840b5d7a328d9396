package e2e

import (
	"fmt"
	"image"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// The RDP benchmarks run xfreerdp through `onepam rdp connect` (control,
// agent and CLI as processes, the agent recording every pixel) and
// straight to the same freerdp-shadow-cli, interleaved (see
// /work/shared/BENCHMARKING.md):
//
//	go test ./e2e -run '^$' -bench 'RDP' -benchtime 1x -v

// serverClock relays one connection to target and notes when the last
// server-to-client byte passed.
type serverClock struct {
	start time.Time
	last  atomic.Int64 // ns since start
	bytes atomic.Int64
}

// countingRelay listens on loopback, relays the first connection to
// target while timing the server's bytes, and returns its address.
func countingRelay(tb testing.TB, target string, sc *serverClock) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = io.Copy(s, c); s.Close() }()
		buf := make([]byte, 64<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				sc.bytes.Add(int64(n))
				sc.last.Store(int64(time.Since(sc.start)))
				if _, werr := c.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		c.Close()
		wg.Wait()
	}()
	return ln.Addr().String()
}

// firstFrame starts xfreerdp against addr (through a counting relay) and
// returns the time from its start until the server's traffic went quiet
// for a second, i.e. the connection sequence and the first full frame;
// it then checks that the window shows the server's screen (at most
// maxDiff pixels differing by more than fuzz per channel: xfreerdp's
// default pipeline straight to the shadow server is lossy H.264, the
// gateway's bitmaps are exact) and closes xfreerdp.
func firstFrame(b *testing.B, display, addr string, truth *image.RGBA, fuzz, maxDiff int) float64 {
	b.Helper()
	sc := &serverClock{}
	ra := countingRelay(b, addr, sc)
	sc.start = time.Now()
	client := startXfreerdp(b, display, ra)
	defer func() { client.Signal(syscall.SIGTERM); _, _ = client.Wait(20 * time.Second) }()
	e2etest.WaitFor(b, 30*time.Second, "the RDP traffic to settle", func() bool {
		last := time.Duration(sc.last.Load())
		return (sc.bytes.Load() > 10000 && time.Since(sc.start)-last > time.Second) || client.Exited()
	})
	if client.Exited() {
		b.Fatalf("xfreerdp exited:\n%s", client.Output())
	}
	settled := time.Duration(sc.last.Load())
	win := clientWindow(b, display, client)
	img, err := windowShot(display, win)
	if err != nil {
		b.Fatal(err)
	}
	if n := diffFuzz(img, truth, fuzz); n > maxDiff {
		b.Fatalf("xfreerdp via %s shows a screen differing from the server's in %d pixels (fuzz %d) after settling", addr, n, fuzz)
	}
	return float64(settled.Microseconds()) / 1000
}

// BenchmarkRDPFirstFrame: time from xfreerdp's start to its first full
// frame through `onepam rdp connect` (TLS to the server, bitmap updates
// decoded and recorded by the agent) against xfreerdp straight to the
// same freerdp-shadow-cli (its default pipeline: GFX with H.264/AVC on
// this server). A new `rdp connect` session per sample; its own start is
// not counted.
func BenchmarkRDPFirstFrame(b *testing.B) {
	rdpPeers(b)
	desk := startRDPDesk(b)
	display := startClientDisplay(b)
	w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: rdp://%s:%s@%s?security=tls&ignore_cert=true\n", rdpUser, rdpPassword, desk.tlsAddr))
	truth := desk.screenshot(b)
	through := func() float64 {
		tun := rdpConnect(b, w.admin, "desk")
		ms := firstFrame(b, display, tun.Addr, truth, 0, 0)
		tun.Signal(syscall.SIGINT)
		if code, err := tun.Wait(20 * time.Second); err != nil || code != 0 {
			b.Fatalf("rdp connect after Ctrl-C: exit %d %v\n%s", code, err, tun.Output())
		}
		return ms
	}
	direct := func() float64 { return firstFrame(b, display, desk.tlsAddr, truth, 64, 640*480/10) }
	interleave(b, "xfreerdp start → first full frame (ms)", "ms", through, direct)
}

// BenchmarkRDPRecordingRate: recording bytes per second while the
// server's screen changes, through the real binaries: "xclock" (a
// 200×200 clock redrawn every second) and "busy" (ico's polyhedron
// animated over the whole 640×480 screen). The rate is measured over a
// 20 s window inside the session from the exported recording (event
// offsets by event time), so the first frame is not counted; keyframes
// (every 10 s) are.
func BenchmarkRDPRecordingRate(b *testing.B) {
	rdpPeers(b)
	desk := startRDPDesk(b)
	display := startClientDisplay(b)
	w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: rdp://%s:%s@%s?security=tls&ignore_cert=true\n", rdpUser, rdpPassword, desk.tlsAddr))
	truth := desk.screenshot(b)
	const window = 20 * time.Second
	for _, mode := range []struct {
		name string
		prog string
		args []string
	}{
		{"xclock", "xclock", []string{"-update", "1", "-geometry", "200x200+420+10"}},
		{"busy", "ico", []string{"-faces", "-geometry", "640x480+0+0"}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			tun := rdpConnect(b, w.admin, "desk")
			client := startXfreerdp(b, display, tun.Addr)
			waitClientShows(b, display, client, truth)
			anim := e2etest.Start(b, mode.prog, []string{"DISPLAY=" + desk.srv.DisplayName()}, mode.prog, mode.args...)
			// Let the program map its window before the window opens.
			warm := time.Now().Add(2 * time.Second)
			e2etest.WaitFor(b, 10*time.Second, "2 s of animation", func() bool { return time.Now().After(warm) })
			from := time.Now()
			until := from.Add(window)
			e2etest.WaitFor(b, window+10*time.Second, "the measuring window", func() bool { return time.Now().After(until) })
			anim.Signal(syscall.SIGKILL)
			_, _ = anim.Wait(10 * time.Second)
			client.Signal(syscall.SIGTERM)
			_, _ = client.Wait(20 * time.Second)
			tun.Signal(syscall.SIGINT)
			_, _ = tun.Wait(20 * time.Second)
			e2etest.WaitFor(b, 30*time.Second, "recording complete", func() bool {
				return session(b, w.admin, tun.ID).Recording.State == api.RecordingComplete
			})
			hdr, evs, offs := exportEvents(b, w.admin, tun.ID)
			t0, t1 := from.Sub(hdr.Start), until.Sub(hdr.Start)
			var off0, off1 int64 = -1, -1
			var frames int
			for i, e := range evs {
				if e.T < t0 {
					off0 = offs[i]
					continue
				}
				if e.T <= t1 {
					off1 = offs[i]
					if e.Type == deskproto.EventRect || e.Type == deskproto.EventFill || e.Type == deskproto.EventCopy {
						frames++
					}
				}
			}
			if off0 < 0 || off1 < off0 {
				b.Fatalf("no events in the window %s–%s of the recording", t0, t1)
			}
			rate := float64(off1-off0) / window.Seconds()
			fmt.Printf("RDP recording, %s: %.0f bytes/s (%.1f MiB/min), %.1f screen updates/s over %s\n",
				mode.name, rate, rate*60/(1<<20), float64(frames)/window.Seconds(), window)
			b.ReportMetric(rate, "rec-bytes/s")
			desk.srv.Run(b, "xsetroot", "-mod", "8", "8", "-fg", "#3366cc", "-bg", "#ffcc00")
		})
	}
}

// diffFuzz counts pixels whose RGB channels differ by more than fuzz; a
// size mismatch counts every pixel.
func diffFuzz(a, b *image.RGBA, fuzz int) int {
	if a.Bounds().Size() != b.Bounds().Size() {
		return max(a.Bounds().Dx()*a.Bounds().Dy(), b.Bounds().Dx()*b.Bounds().Dy())
	}
	n := 0
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			i := a.PixOffset(x+a.Rect.Min.X, y+a.Rect.Min.Y)
			j := b.PixOffset(x+b.Rect.Min.X, y+b.Rect.Min.Y)
			for k := 0; k < 3; k++ {
				d := int(a.Pix[i+k]) - int(b.Pix[j+k])
				if d > fuzz || -d > fuzz {
					n++
					break
				}
			}
		}
	}
	return n
}
