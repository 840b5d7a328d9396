package e2e

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// The RDP benchmarks run xfreerdp through `onepam rdp connect` (control,
// agent and CLI as processes, the agent recording every pixel) and
// straight to the same freerdp-shadow-cli, interleaved (see the shared
// BENCHMARKING.md):
//
//	scripts/bench/desktop RDP    (go test ./e2e -run '^$' -bench 'RDP' -benchtime 1x -v)

// firstFrame starts xfreerdp against addr (through a counting relay) and
// returns the time from its start until the server's traffic went quiet
// for a second, i.e. the connection sequence and the first full frame;
// it then checks that the window shows the server's screen (at most
// maxDiff pixels differing by more than fuzz per channel: xfreerdp's
// default pipeline straight to the shadow server is lossy H.264, the
// gateway's bitmaps are exact) and closes xfreerdp.
func firstFrame(b *testing.B, display, addr string, truth *image.RGBA, fuzz, maxDiff int) float64 {
	b.Helper()
	ra, sc := proxytest.TimedRelay(b, addr)
	client := startXfreerdp(b, display, ra)
	defer func() { client.Signal(syscall.SIGTERM); _, _ = client.Wait(20 * time.Second) }()
	e2etest.WaitFor(b, 30*time.Second, "the RDP traffic to settle", func() bool {
		_, ok := sc.Settled(10000, time.Second)
		return ok || client.Exited()
	})
	if client.Exited() {
		b.Fatalf("xfreerdp exited:\n%s", client.Output())
	}
	settled, _ := sc.Settled(0, 0)
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
		stopConnect(b, tun)
		return ms
	}
	direct := func() float64 { return firstFrame(b, display, desk.tlsAddr, truth, 64, 640*480/10) }
	interleave(b, "xfreerdp start → first full frame (ms)", "ms", through, direct)
}

// rdpPaths opens a client against the gateway (a new `rdp connect`
// session) or straight to the shadow server, and returns its address and
// what ends it.
func rdpPaths(b *testing.B, w *world, desk *rdpDesk) (through, direct func() (string, func())) {
	through = func() (string, func()) {
		tun := rdpConnect(b, w.admin, "desk")
		return tun.Addr, func() { tun.Signal(syscall.SIGINT); _, _ = tun.Wait(20 * time.Second) }
	}
	direct = func() (string, func()) { return desk.tlsAddr, func() {} }
	return through, direct
}

// BenchmarkRDPAnimation: how often the person's screen changes while
// the server's whole 640×480 screen is animated (ico's polyhedron redrawn
// as fast as X lets it), xfreerdp through `onepam rdp connect` against
// xfreerdp straight to the same freerdp-shadow-cli, interleaved 5 s
// windows. The changes are counted on the client display's framebuffer
// (Xvfb -fbdir, sampled every millisecond), so both paths are measured
// where the person looks, whatever the protocol carried: straight, the
// shadow server sends GFX/H.264; through the gateway, bitmaps.
func BenchmarkRDPAnimation(b *testing.B) {
	rdpPeers(b)
	requireBenchPeers(b, "ico")
	desk := startRDPDesk(b)
	fb := startFBDisplay(b)
	w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: rdp://%s:%s@%s?security=tls&ignore_cert=true\n", rdpUser, rdpPassword, desk.tlsAddr))
	anim := e2etest.Start(b, "ico", []string{"DISPLAY=" + desk.srv.DisplayName()}, "ico", "-faces", "-geometry", "640x480+0+0")
	defer func() { anim.Signal(syscall.SIGKILL); _, _ = anim.Wait(10 * time.Second) }()
	rate := func(open func() (string, func())) func() float64 {
		return func() float64 {
			addr, end := open()
			defer end()
			client := startXfreerdp(b, fb.Name, addr)
			defer func() { client.Signal(syscall.SIGTERM); _, _ = client.Wait(20 * time.Second) }()
			r := windowRect(b, fb.Name, clientWindow(b, fb.Name, client))
			hold(b, 2*time.Second) // connection sequence and first frame
			cc, t0 := countChanges(fb, r), time.Now()
			hold(b, 5*time.Second)
			n := cc.Stop()
			if client.Exited() {
				b.Fatalf("xfreerdp exited:\n%s", client.Output())
			}
			return float64(n) / time.Since(t0).Seconds()
		}
	}
	through, direct := rdpPaths(b, w, desk)
	interleave(b, "RDP full-screen animation (ico), screen changes/s at the client", "changes/s", rate(through), rate(direct))
}

// BenchmarkRDPLatency: time from a full-screen change on the server (the
// root window's colour, xsetroot -solid; timed from xsetroot's exit, when
// the X server has drawn it) until the person's screen shows it (the
// client display's framebuffer, polled every 250 µs), xfreerdp through
// `onepam rdp connect` against xfreerdp straight to the same
// freerdp-shadow-cli, in interleaved blocks of ONEPAM_BENCH_LATENCY_N
// samples. The difference of the medians is the latency the gateway adds.
func BenchmarkRDPLatency(b *testing.B) {
	rdpPeers(b)
	desk := startRDPDesk(b)
	fb := startFBDisplay(b)
	w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: rdp://%s:%s@%s?security=tls&ignore_cert=true\n", rdpUser, rdpPassword, desk.tlsAddr))
	n := benchEnvInt("ONEPAM_BENCH_LATENCY_N", 100)
	block := func(open func() (string, func())) func() []float64 {
		return func() []float64 {
			addr, end := open()
			defer end()
			client := startXfreerdp(b, fb.Name, addr)
			defer func() { client.Signal(syscall.SIGTERM); _, _ = client.Wait(20 * time.Second) }()
			r := windowRect(b, fb.Name, clientWindow(b, fb.Name, client))
			hold(b, 2*time.Second)
			// A point of the root window, away from the image window. The
			// direct path is lossy (H.264): a colour counts within 40 levels.
			p := r.Min.Add(image.Pt(20, 20))
			return drawLatency(b, desk.srv.DisplayName(), n, func(c color.RGBA) bool { return near(fb.At(p.X, p.Y), c, 40) })
		}
	}
	through, direct := rdpPaths(b, w, desk)
	interleaveLatency(b, "RDP full-screen change → the person's screen (ms)", block(through), block(direct))
}

// BenchmarkRDPAgentLoad: the agent's CPU and memory per active RDP
// session, with 1 and 4 sessions at once, each an xfreerdp following a
// full-screen animation (ico) on the same shadow server: (agent with n
// sessions − the same agent idle before them) / n. A new control and
// agent for each n.
func BenchmarkRDPAgentLoad(b *testing.B) {
	rdpPeers(b)
	requireBenchPeers(b, "ico")
	desk := startRDPDesk(b)
	display := startClientDisplay(b)
	anim := e2etest.Start(b, "ico", []string{"DISPLAY=" + desk.srv.DisplayName()}, "ico", "-faces", "-geometry", "640x480+0+0")
	defer func() { anim.Signal(syscall.SIGKILL); _, _ = anim.Wait(10 * time.Second) }()
	window := time.Duration(benchEnvInt("ONEPAM_BENCH_LOAD_SECS", 20)) * time.Second
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: rdp://%s:%s@%s?security=tls&ignore_cert=true\n", rdpUser, rdpPassword, desk.tlsAddr))
			pid := w.agent.Pid()
			idle := measureUsage(b, pid, 5*time.Second)
			var tuns []*tunnel
			var clients []*e2etest.Proc
			for i := 0; i < n; i++ {
				tun := rdpConnect(b, w.admin, "desk")
				tuns = append(tuns, tun)
				client := startXfreerdp(b, display, tun.Addr)
				clients = append(clients, client)
				clientWindow(b, display, client)
			}
			hold(b, 3*time.Second)
			from := time.Now()
			busy := measureUsage(b, pid, window)
			until := time.Now()
			for _, c := range clients {
				if c.Exited() {
					b.Fatalf("xfreerdp exited during the window:\n%s", c.Output())
				}
				c.Signal(syscall.SIGTERM)
				_, _ = c.Wait(20 * time.Second)
			}
			for _, t := range tuns {
				t.Signal(syscall.SIGINT)
				_, _ = t.Wait(20 * time.Second)
			}
			// The screen rectangles the agent decoded and recorded in the
			// window, over all sessions.
			var rects int
			for _, t := range tuns {
				e2etest.WaitFor(b, 60*time.Second, "recording complete", func() bool {
					return session(b, w.admin, t.ID).Recording.State == api.RecordingComplete
				})
				hdr, evs, _ := exportEvents(b, w.admin, t.ID)
				t0, t1 := from.Sub(hdr.Start), until.Sub(hdr.Start)
				for _, e := range evs {
					if e.T >= t0 && e.T < t1 && (e.Type == deskproto.EventRect || e.Type == deskproto.EventFill || e.Type == deskproto.EventCopy) {
						rects++
					}
				}
			}
			rps := float64(rects) / until.Sub(from).Seconds()
			reportLoad(b, "RDP agent, ico full-screen", n, idle, busy,
				fmt.Sprintf("; %.0f bitmap rectangles/s recorded over all sessions, %.3f ms agent CPU per rectangle", rps, (busy.CPU-idle.CPU)/100*1000/rps))
		})
	}
}

// BenchmarkRDPRecordingRate: stored recording bytes per minute of an RDP
// session through the real binaries: "typing" (office-like use) is a
// person typing prose at 5 characters a second (xdotool on the client's
// display, into xfreerdp) into an xterm on the server; "video" a 25 fps
// video with grain played full-screen (every pixel changes every frame);
// "video-clean" the same without grain (flat colours). The size is the
// stored recording's (zstd-compressed container, keyframes every 10 s and
// the first screen included) over the session's length.
func BenchmarkRDPRecordingRate(b *testing.B) {
	rdpPeers(b)
	requireBenchPeers(b, "xterm", "ffmpeg", "ffplay")
	desk := startRDPDesk(b)
	display := startClientDisplay(b)
	w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: rdp://%s:%s@%s?security=tls&ignore_cert=true\n", rdpUser, rdpPassword, desk.tlsAddr))
	videos := map[string]string{"video": testVideo(b, true), "video-clean": testVideo(b, false)}
	secs := benchEnvInt("ONEPAM_BENCH_DESK_SECS", 60)
	for _, mode := range []string{"typing", "video", "video-clean"} {
		b.Run(mode, func(b *testing.B) {
			var p *e2etest.Proc
			if mode == "typing" {
				p = e2etest.Start(b, "xterm", []string{"DISPLAY=" + desk.srv.DisplayName()}, "xterm", "-geometry", "80x24+20+20", "-e", "cat")
			} else {
				p = playVideo(b, desk.srv.DisplayName(), videos[mode])
			}
			defer func() { p.Signal(syscall.SIGKILL); _, _ = p.Wait(10 * time.Second) }()
			hold(b, 2*time.Second) // the window maps
			tun := rdpConnect(b, w.admin, "desk")
			client := startXfreerdp(b, display, tun.Addr)
			win := clientWindow(b, display, client)
			if mode == "typing" {
				// The pointer over the xterm gives it the keyboard (no
				// window manager on the server: focus follows the pointer).
				xdo(b, display, "windowfocus", "--sync", win)
				xdo(b, display, "mousemove", "--window", win, "200", "150")
				keys := typingKeys(secs * typingRate)
				t0 := time.Now()
				cmd := exec.Command("xdotool", "-")
				cmd.Env = append(os.Environ(), "DISPLAY="+display)
				cmd.Stdin = strings.NewReader(xdotoolTyping(keys))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("xdotool typing: %v\n%s", err, out)
				}
				fmt.Printf("RDP typing: %d characters in %.1f s\n", len(keys), time.Since(t0).Seconds())
			} else {
				hold(b, time.Duration(secs)*time.Second)
			}
			if client.Exited() {
				b.Fatalf("xfreerdp exited:\n%s", client.Output())
			}
			client.Signal(syscall.SIGTERM)
			_, _ = client.Wait(20 * time.Second)
			tun.Signal(syscall.SIGINT)
			_, _ = tun.Wait(20 * time.Second)
			perMin, size, dur := recordedRate(b, w.admin, tun.ID)
			_, evs, _ := exportEvents(b, w.admin, tun.ID)
			var rects, keys int
			for _, e := range evs {
				switch e.Type {
				case deskproto.EventRect, deskproto.EventFill, deskproto.EventCopy:
					rects++
				case deskproto.EventKey:
					keys++
				}
			}
			fmt.Printf("RDP recording, %s: %.0f KiB/min stored (%d bytes over %.1f s; %d screen rectangles, %d key events)\n",
				mode, perMin/1024, size, dur.Seconds(), rects, keys)
			b.ReportMetric(perMin, "stored-bytes/min")
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
