package e2e

import (
	"fmt"
	"image/color"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/vnc/rfb"
	"github.com/onepam/onepam/agent/proxy/vnc/vnctest"
	"github.com/onepam/onepam/e2e/e2etest"
)

// VNC figures of issue 7 through the real binaries (`onepam vnc connect`
// → control → agent recording deskproto → Xvnc), against the same viewer
// straight to the same Xvnc where there is a baseline:
//
//	scripts/bench/desktop VNC    (go test ./e2e -run '^$' -bench 'VNC' -benchtime 1x -v)

// vncViewer is a Go RFB viewer that behaves like a real one: it keeps one
// incremental update request outstanding, counting the updates.
type vncViewer struct {
	cl      *vnctest.Client
	updates atomic.Int64
	centre  atomic.Uint32 // 0xRRGGBB at the screen's centre after the last update
	done    chan error
	closed  atomic.Bool
}

// Centre is the colour at the centre of the viewer's screen.
func (v *vncViewer) Centre() color.RGBA {
	c := v.centre.Load()
	return color.RGBA{R: uint8(c >> 16), G: uint8(c >> 8), B: uint8(c), A: 255}
}

// viewerEncodings is what viewers ask for, less the lossy ones (Tight
// with JPEG) that the agent takes out of the list anyway.
var viewerEncodings = []int32{rfb.EncZRLE, rfb.EncHextile, rfb.EncCopyRect, rfb.EncRaw}

// startVNCViewer connects a viewer asking for encs (nil: viewerEncodings).
func startVNCViewer(tb testing.TB, addr string, encs []int32) *vncViewer {
	tb.Helper()
	cl, err := vnctest.Dial(addr, "")
	if err != nil {
		tb.Fatalf("viewer to %s: %v", addr, err)
	}
	v := &vncViewer{cl: cl, done: make(chan error, 1)}
	tb.Cleanup(func() { v.Stop() })
	if encs == nil {
		encs = viewerEncodings
	}
	if err := cl.SetEncodings(encs...); err != nil {
		tb.Fatal(err)
	}
	if err := cl.Request(false); err != nil {
		tb.Fatal(err)
	}
	go func() {
		for {
			if err := cl.ReadUpdate(30 * time.Second); err != nil {
				v.done <- err
				return
			}
			v.updates.Add(1)
			fb := cl.Frame()
			c := fb.RGBAAt(fb.Bounds().Dx()/2, fb.Bounds().Dy()/2)
			v.centre.Store(uint32(c.R)<<16 | uint32(c.G)<<8 | uint32(c.B))
			if err := cl.Request(true); err != nil {
				v.done <- err
				return
			}
		}
	}()
	return v
}

// Stop closes the viewer and returns the updates it got, or the error
// that had ended it before.
func (v *vncViewer) Stop() (int64, error) {
	if v.closed.Swap(true) {
		return v.updates.Load(), nil
	}
	select {
	case err := <-v.done:
		v.cl.Close()
		return v.updates.Load(), fmt.Errorf("the viewer stopped before the end: %w", err)
	default:
	}
	v.cl.Close()
	<-v.done
	return v.updates.Load(), nil
}

// BenchmarkVNCAnimation: frame updates per second a viewer keeping an
// incremental request outstanding gets while the whole 640×480 screen is
// animated, through `onepam vnc connect` (deskproto recording on) and
// straight to the same Xvnc, interleaved 5 s windows. "ico" is ico's
// polyhedron redrawn as fast as X lets it; "video" a 25 fps video with
// grain played full-screen by ffplay. The viewer asks for its usual
// encodings (ZRLE first) or for Raw only.
func BenchmarkVNCAnimation(b *testing.B) {
	requireBenchPeers(b, "Xvnc", "ico", "ffmpeg", "ffplay")
	srv := vnctest.StartXvnc(b)
	w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: vnc://%s\n", srv.Addr))
	video := testVideo(b, true)
	for _, anim := range []string{"ico", "video"} {
		for _, enc := range []struct {
			name string
			encs []int32
		}{{"zrle", viewerEncodings}, {"raw", []int32{rfb.EncRaw}}} {
			b.Run(anim+"/"+enc.name, func(b *testing.B) {
				var p *e2etest.Proc
				if anim == "ico" {
					p = e2etest.Start(b, "ico", []string{"DISPLAY=" + srv.DisplayName()}, "ico", "-faces", "-geometry", "640x480+0+0")
				} else {
					p = playVideo(b, srv.DisplayName(), video)
				}
				defer func() { p.Signal(syscall.SIGKILL); _, _ = p.Wait(10 * time.Second) }()
				rate := func(addr func() (string, func())) func() float64 {
					return func() float64 {
						a, end := addr()
						v := startVNCViewer(b, a, enc.encs)
						hold(b, time.Second) // the first full frame
						n0, t0 := v.updates.Load(), time.Now()
						hold(b, 5*time.Second)
						n := v.updates.Load() - n0
						el := time.Since(t0)
						if _, err := v.Stop(); err != nil {
							b.Fatalf("viewer: %v", err)
						}
						end()
						return float64(n) / el.Seconds()
					}
				}
				through := rate(func() (string, func()) {
					tun := connectType(b, w.admin, "vnc", "desk")
					return tun.Addr, func() { tun.Signal(syscall.SIGINT); _, _ = tun.Wait(20 * time.Second) }
				})
				direct := rate(func() (string, func()) { return srv.Addr, func() {} })
				interleave(b, "VNC full-screen animation ("+anim+", viewer asks "+enc.name+"), updates/s a viewer gets", "updates/s", through, direct)
			})
		}
	}
}

// BenchmarkVNCAgentLoad: the agent's CPU and memory per active VNC
// session, with 1 and 4 sessions at once, each a viewer following a
// full-screen animation (ico) on the same Xvnc: (agent with n sessions −
// the same agent idle before them) / n. A new control and agent for each
// n, so the idle figure is a fresh agent's.
func BenchmarkVNCAgentLoad(b *testing.B) {
	requireBenchPeers(b, "Xvnc", "ico")
	srv := vnctest.StartXvnc(b)
	srv.Start(b, "ico", "-faces", "-geometry", "640x480+0+0")
	window := time.Duration(benchEnvInt("ONEPAM_BENCH_LOAD_SECS", 20)) * time.Second
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: vnc://%s\n", srv.Addr))
			pid := w.agent.Pid()
			idle := measureUsage(b, pid, 5*time.Second)
			var viewers []*vncViewer
			var tuns []*tunnel
			for i := 0; i < n; i++ {
				tun := connectType(b, w.admin, "vnc", "desk")
				tuns = append(tuns, tun)
				viewers = append(viewers, startVNCViewer(b, tun.Addr, nil))
			}
			hold(b, 3*time.Second)
			var u0 int64
			for _, v := range viewers {
				u0 += v.updates.Load()
			}
			busy := measureUsage(b, pid, window)
			var u1 int64
			var mu sync.Mutex
			for _, v := range viewers {
				got, err := v.Stop()
				if err != nil {
					b.Fatalf("viewer: %v", err)
				}
				mu.Lock()
				u1 += got
				mu.Unlock()
			}
			for _, t := range tuns {
				t.Signal(syscall.SIGINT)
				_, _ = t.Wait(20 * time.Second)
			}
			ups := float64(u1-u0) / window.Seconds()
			cpuPerUpdate := (busy.CPU - idle.CPU) / 100 * 1000 / ups // ms of agent CPU per update
			reportLoad(b, "VNC agent, ico full-screen", n, idle, busy,
				fmt.Sprintf("; %.1f updates/s over all viewers, %.2f ms agent CPU per update", ups, cpuPerUpdate))
		})
	}
}

// BenchmarkVNCRecordingRate: stored recording bytes per minute of a VNC
// session through the real binaries, the viewer following the screen:
// "typing" is a person typing prose at 5 characters a second into an
// xterm (the viewer sends the keys), "video" a 25 fps video with grain
// played full-screen (every pixel changes every frame), "video-clean" the
// same without grain (flat colours). The size is the stored recording's (zstd-compressed
// container, keyframes every 10 s and the first screen included) over the
// session's length.
func BenchmarkVNCRecordingRate(b *testing.B) {
	requireBenchPeers(b, "Xvnc", "xterm", "ffmpeg", "ffplay", "xsetroot")
	srv := vnctest.StartXvnc(b)
	srv.Run(b, "xsetroot", "-mod", "8", "8", "-fg", "#3366cc", "-bg", "#ffcc00")
	w := newWorld(b, fmt.Sprintf("  - name: desk\n    url: vnc://%s\n", srv.Addr))
	videos := map[string]string{"video": testVideo(b, true), "video-clean": testVideo(b, false)}
	secs := benchEnvInt("ONEPAM_BENCH_DESK_SECS", 60)
	for _, mode := range []string{"typing", "video", "video-clean"} {
		b.Run(mode, func(b *testing.B) {
			var p *e2etest.Proc
			if mode == "typing" {
				p = e2etest.Start(b, "xterm", []string{"DISPLAY=" + srv.DisplayName()}, "xterm", "-geometry", "80x24+20+20", "-e", "cat")
			} else {
				p = playVideo(b, srv.DisplayName(), videos[mode])
			}
			defer func() { p.Signal(syscall.SIGKILL); _, _ = p.Wait(10 * time.Second) }()
			hold(b, 2*time.Second) // the window maps
			tun := connectType(b, w.admin, "vnc", "desk")
			v := startVNCViewer(b, tun.Addr, nil)
			if mode == "typing" {
				// The pointer over the xterm gives it the keyboard (no
				// window manager: focus follows the pointer).
				if err := v.cl.Pointer(200, 150, 0); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				keys := typingKeys(secs * typingRate)
				for i, k := range keys {
					ch := uint32(k[0]) // a letter: its keysym is its code
					switch k {
					case "Return":
						ch = 0xff0d
					case "space":
						ch = ' '
					case "period":
						ch = '.'
					}
					if err := v.cl.Key(true, ch); err != nil {
						b.Fatal(err)
					}
					if err := v.cl.Key(false, ch); err != nil {
						b.Fatal(err)
					}
					// The typist's pace (the workload, not a wait for a condition).
					time.Sleep(time.Until(t0.Add(time.Duration(i+1) * time.Second / typingRate)))
				}
				fmt.Printf("VNC typing: %d characters in %.1f s\n", len(keys), time.Since(t0).Seconds())
			} else {
				hold(b, time.Duration(secs)*time.Second)
			}
			ups, err := v.Stop()
			if err != nil {
				b.Fatalf("viewer: %v", err)
			}
			tun.Signal(syscall.SIGINT)
			_, _ = tun.Wait(20 * time.Second)
			perMin, size, dur := recordedRate(b, w.admin, tun.ID)
			fmt.Printf("VNC recording, %s: %.0f KiB/min stored (%d bytes over %.1f s; the viewer got %d updates)\n",
				mode, perMin/1024, size, dur.Seconds(), ups)
			b.ReportMetric(perMin, "stored-bytes/min")
		})
	}
}
