package rdp

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/proxytest"
)

// settle runs xfreerdp against addr (through a counting relay) and
// returns the time from start until the server's traffic went quiet for
// a second: the connection sequence plus the first complete frame.
func settle(b *testing.B, p *peers, addr string, extra ...string) (time.Duration, int64) {
	ra, sc := proxytest.TimedRelay(b, addr)
	args := append([]string{"/v:" + ra, "/cert:ignore", "/u:" + p.user, "/p:" + p.pass, "/size:640x480"}, extra...)
	cmd := exec.Command("xfreerdp", args...)
	home := b.TempDir()
	cmd.Env = append(os.Environ(), "DISPLAY="+p.clientDisplay, "HOME="+home, "XDG_CONFIG_HOME="+home)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		if last, ok := sc.Settled(10000, time.Second); ok {
			return last, sc.Bytes()
		}
		if time.Now().After(deadline) {
			b.Fatal("the session never settled")
		}
	}
}

// BenchmarkTimeToFirstFrame compares xfreerdp straight to
// freerdp-shadow-cli (TLS, its default GFX/H.264 pipeline) with xfreerdp
// through the proxy (bitmap updates, recorded), side by side per
// iteration. Run with -benchtime=5x.
func BenchmarkTimeToFirstFrame(b *testing.B) {
	p := getPeers(b)
	var direct, proxied time.Duration
	var dBytes, pBytes int64
	for i := 0; i < b.N; i++ {
		d, n := settle(b, p, p.tlsAddr)
		direct += d
		dBytes += n
		h, err := openSession(b, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityTLS, IgnoreCert: true, Username: p.user, Password: p.pass})
		if err != nil {
			b.Fatal(err)
		}
		d, n = settle(b, p, h.Addr)
		proxied += d
		pBytes += n
		h.Sess.Close()
	}
	b.ReportMetric(float64(direct.Milliseconds())/float64(b.N), "direct-ms")
	b.ReportMetric(float64(proxied.Milliseconds())/float64(b.N), "proxy-ms")
	b.ReportMetric(float64(dBytes)/float64(b.N), "direct-bytes")
	b.ReportMetric(float64(pBytes)/float64(b.N), "proxy-bytes")
}

// BenchmarkRecordingRate reports recording bytes per second while the
// server's screen changes: full-screen colour changes 10 times a second
// ("fullscreen") and a clock updating every second ("clock").
func BenchmarkRecordingRate(b *testing.B) {
	p := getPeers(b)
	for _, mode := range []string{"clock", "fullscreen"} {
		b.Run(mode, func(b *testing.B) {
			var total float64
			for i := 0; i < b.N; i++ {
				h, err := openSession(b, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityTLS, IgnoreCert: true, Username: p.user, Password: p.pass})
				if err != nil {
					b.Fatal(err)
				}
				settle(b, p, h.Addr) // the client is gone after settle: reconnect and measure
				cmd := exec.Command("xfreerdp", "/v:"+h.Addr, "/cert:ignore", "/u:x", "/p:y", "/size:640x480")
				home := b.TempDir()
				cmd.Env = append(os.Environ(), "DISPLAY="+p.clientDisplay, "HOME="+home, "XDG_CONFIG_HOME="+home)
				cmd.Start()
				time.Sleep(3 * time.Second)
				before := len(h.Rec.Bytes())
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() {
					defer close(done)
					if mode == "clock" {
						c := exec.Command("xclock", "-update", "1", "-geometry", "200x200+10+10")
						c.Env = append(os.Environ(), "DISPLAY="+p.serverDisplay)
						c.Start()
						<-stop
						c.Process.Kill()
						c.Wait()
						return
					}
					colors := []string{"#ff0000", "#00ff00", "#0000ff", "#ffffff"}
					for k := 0; ; k++ {
						select {
						case <-stop:
							return
						case <-time.After(100 * time.Millisecond):
						}
						c := exec.Command("xsetroot", "-solid", colors[k%len(colors)])
						c.Env = append(os.Environ(), "DISPLAY="+p.serverDisplay)
						c.Run()
					}
				}()
				const window = 10 * time.Second
				time.Sleep(window)
				close(stop)
				<-done
				h.Sess.Close()
				cmd.Process.Kill()
				cmd.Wait()
				total += float64(len(h.Rec.Bytes())-before) / window.Seconds()
				exec.Command("env", "DISPLAY="+p.serverDisplay, "xsetroot", "-mod", "8", "8", "-fg", "#3366cc", "-bg", "#ffcc00").Run()
			}
			b.ReportMetric(total/float64(b.N), "rec-bytes/s")
		})
	}
}
