package rdp

import (
	"bytes"
	"image"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/rdp/wire"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// frameMatches polls until the recording's current frame equals the
// server's screenshot: every channel within fuzz (the server reduces
// colours to 16 bits at lower colour depths), at most tolerance
// differing pixels.
func frameMatches(t *testing.T, p *peers, h *harness, fuzz, tolerance int) {
	t.Helper()
	var last int
	poll := time.Now().Add(30 * time.Second)
	for {
		data := h.Rec.Bytes()
		pl, err := deskproto.NewPlayer(bytes.NewReader(data), int64(len(data)))
		if err == nil && pl.Duration() > 0 {
			if img, err := pl.Frame(pl.Duration()); err == nil && img.Bounds().Dx() > 0 {
				last = diffPixels(p.screenshot(t), img, fuzz)
				if last <= tolerance {
					return
				}
			}
		}
		if time.Now().After(poll) {
			t.Fatalf("the recording's frame differs from the server's screen in %d pixels (last frame at %s)", last, dumpFrame(t, h))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func countEvents(t *testing.T, h *harness, typ deskproto.EventType, match func(deskproto.Event) bool) int {
	n := 0
	for _, e := range events(t, h.Rec.Bytes()) {
		if e.Type == typ && (match == nil || match(e)) {
			n++
		}
	}
	return n
}

func TestXfreerdpThroughProxyTLS(t *testing.T) {
	p := getPeers(t)
	// xfreerdp's defaults ask for the GFX pipeline (H.264 on this
	// server); /nsc, /rfx and +compression ask for codecs and bulk
	// compression: the proxy negotiates all of them away.
	for _, tc := range []struct {
		name string
		bpp  string
		args []string
	}{
		{"bpp32 defaults", "32", nil}, {"bpp24", "24", nil}, {"bpp16", "16", nil},
		{"nsc and compression", "32", []string{"/nsc", "+compression"}}, {"rfx", "32", []string{"/rfx"}},
	} {
		bpp := tc.bpp
		t.Run(tc.name, func(t *testing.T) {
			h, err := openSession(t, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityTLS, IgnoreCert: true, Username: p.user, Password: p.pass})
			if err != nil {
				t.Fatal(err)
			}
			cmd := p.xfreerdp(t, h.Addr, append([]string{"/bpp:" + bpp}, tc.args...)...)
			fuzz := 0
			if bpp != "32" {
				fuzz = 8 // freerdp-shadow-cli sends RGB565 below 32 bpp
			}
			poll(t, "a first frame", func() bool {
				return countEvents(t, h, deskproto.EventRect, nil)+countEvents(t, h, deskproto.EventFill, nil) > 0
			})
			frameMatches(t, p, h, fuzz, 0)
			if cmd.ProcessState != nil {
				t.Fatalf("xfreerdp exited: %v", cmd.ProcessState)
			}
			cmd.Process.Kill()
			cmd.Wait()
			select {
			case err := <-h.Errs:
				if err != nil {
					t.Fatalf("ServeConn: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ServeConn did not return after the client left")
			}
			pl := h.Finish(t)
			if w, hh := pl.Header().Width, pl.Header().Height; w != 0 || hh != 0 {
				t.Logf("header size %dx%d", w, hh)
			}
			if img := lastFrame(t, pl); img.Bounds() != image.Rect(0, 0, 640, 480) {
				t.Fatalf("recorded screen %v, want 640x480", img.Bounds())
			}
		})
	}
}

func TestInputIsRecorded(t *testing.T) {
	p := getPeers(t)
	h, err := openSession(t, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityTLS, IgnoreCert: true, Username: p.user, Password: p.pass})
	if err != nil {
		t.Fatal(err)
	}
	p.xfreerdp(t, h.Addr)
	frameMatches(t, p, h, 0, 0)
	xdo := func(args ...string) {
		cmd := exec.Command("xdotool", args...)
		cmd.Env = append(os.Environ(), "DISPLAY="+p.clientDisplay)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("xdotool %v: %v: %s", args, err, out)
		}
	}
	var win string
	poll(t, "the xfreerdp window", func() bool {
		cmd := exec.Command("xdotool", "search", "--class", "xfreerdp")
		cmd.Env = append(os.Environ(), "DISPLAY="+p.clientDisplay)
		out, _ := cmd.Output()
		win = strings.TrimSpace(strings.Split(string(out), "\n")[0])
		return win != ""
	})
	xdo("windowfocus", "--sync", win)
	xdo("mousemove", "--window", win, "100", "120")
	xdo("click", "1")
	xdo("type", "--window", win, "q")
	// 'q' is PC set-1 scan code 0x10.
	poll(t, "the key and pointer events", func() bool {
		return countEvents(t, h, deskproto.EventKey, func(e deskproto.Event) bool { return e.Scancode == 0x10 }) >= 2 &&
			countEvents(t, h, deskproto.EventPointer, func(e deskproto.Event) bool { return e.Buttons&1 != 0 }) >= 1
	})
}

func TestNLA(t *testing.T) {
	p := getPeers(t)
	t.Run("right password", func(t *testing.T) {
		h, err := openSession(t, Config{}, p.nlaAddr, &TargetConfig{Security: SecurityNLA, IgnoreCert: true, Username: p.user, Password: p.pass})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		p.xfreerdp(t, h.Addr)
		frameMatches(t, p, h, 0, 0)
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := openSession(t, Config{}, p.nlaAddr, &TargetConfig{Security: SecurityNLA, IgnoreCert: true, Username: p.user, Password: "wrong"})
		if err == nil || !strings.Contains(err.Error(), "refused the NLA credentials") {
			t.Fatalf("Open with a wrong password: %v, want the server refusing the credentials", err)
		}
	})
	t.Run("tls-only server asked for nla still works", func(t *testing.T) {
		// The TLS shadow server selects TLS from the offered TLS|NLA.
		if _, err := openSession(t, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityNLA, IgnoreCert: true, Username: p.user, Password: p.pass}); err != nil {
			t.Fatalf("Open: %v", err)
		}
	})
}

func TestCertificateChecks(t *testing.T) {
	p := getPeers(t)
	_, err := openSession(t, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityTLS, Username: p.user, Password: p.pass})
	if err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("Open without trusting the self-signed certificate: %v, want a TLS error", err)
	}
	_, err = openSession(t, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityTLS, Username: p.user, CertFingerprint: strings.Repeat("ab", 32)})
	if err == nil || !strings.Contains(err.Error(), "cert_fingerprint") {
		t.Fatalf("Open with a wrong fingerprint: %v", err)
	}
}

// TestClientOfferingOnlyNLAIsRefused: towards the person the agent
// speaks TLS only; a client insisting on NLA gets RDP_NEG_FAILURE.
func TestClientOfferingOnlyNLAIsRefused(t *testing.T) {
	p := getPeers(t)
	h, err := openSession(t, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityTLS, IgnoreCert: true, Username: p.user, Password: p.pass})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		proto uint32
	}{{"nla only", wire.ProtocolHybrid}, {"standard security", wire.ProtocolRDP}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := netDial(h.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(wire.AppendConnectionRequest(nil, "x", tc.proto))
			_, pdu, err := wire.NewReader(c).Next()
			if err != nil {
				t.Fatal(err)
			}
			cc, err := wire.ParseConnectionConfirm(pdu)
			if err != nil {
				t.Fatal(err)
			}
			if !cc.Failure || cc.Protocol != wire.NegFailureSSLRequired {
				t.Fatalf("confirm %+v, want RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER", cc)
			}
			select {
			case err := <-h.Errs:
				if err == nil || !strings.Contains(err.Error(), "TLS only") {
					t.Fatalf("ServeConn: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ServeConn did not end")
			}
		})
	}
}

// dumpFrame writes the recording's last frame to a PNG for diagnosis
// and returns its path.
func dumpFrame(t *testing.T, h *harness) string {
	data := h.Rec.Bytes()
	pl, err := deskproto.NewPlayer(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err.Error()
	}
	path := t.TempDir() + "/frame.png"
	if d := os.Getenv("RDP_TEST_DUMP"); d != "" {
		path = d
	}
	f, err := os.Create(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if err := pl.ExportPNG(pl.Duration(), f); err != nil {
		return err.Error()
	}
	return path
}
