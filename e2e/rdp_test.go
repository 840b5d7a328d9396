package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/vnc/vnctest"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// rdpUser and rdpPassword are the only credentials the RDP servers
// accept; they live in the agent's resource URLs, never in the client.
const (
	rdpUser     = "alice"
	rdpPassword = "S3cret-pw"
)

// rdpDesk is an RDP server for the tests: freerdp-shadow-cli sharing an
// Xvnc display that shows known content (rdpDesktop; the shadow server
// cannot read an Xvfb display here), once with TLS and once with NLA (a
// winpr-hash SAM file holding rdpUser).
type rdpDesk struct {
	srv              *vnctest.Server
	tlsAddr, nlaAddr string
}

func rdpPeers(t testing.TB) {
	t.Helper()
	for _, p := range []string{"Xvnc", "Xvfb", "freerdp-shadow-cli", "xfreerdp", "winpr-hash", "xdotool", "import",
		"display", "xsetroot", "xclock"} {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (CI=true: a missing peer is a failure; ./scripts/test installs it)", p)
			}
			t.Skipf("%s is not installed; ./scripts/test installs it (skipping outside CI)", p)
		}
	}
}

// startRDPDesk starts the desktop and both shadow servers.
func startRDPDesk(t testing.TB) *rdpDesk {
	t.Helper()
	srv := rdpDesktop(t)
	dir := t.TempDir()
	sam, err := exec.Command("winpr-hash", "-u", rdpUser, "-p", rdpPassword, "-f", "sam").Output()
	if err != nil {
		t.Fatalf("winpr-hash: %v", err)
	}
	samFile := filepath.Join(dir, "sam")
	if err := os.WriteFile(samFile, sam, 0o600); err != nil {
		t.Fatal(err)
	}
	d := &rdpDesk{srv: srv}
	env := []string{"DISPLAY=" + srv.DisplayName(), "HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	for _, mode := range []string{"tls", "nla"} {
		port := e2etest.FreePort(t)
		args := []string{"/port:" + strconv.Itoa(port), "/bind-address:127.0.0.1"}
		if mode == "tls" {
			args = append(args, "-auth", "/sec:tls")
		} else {
			args = append(args, "/sec:nla", "/sam-file:"+samFile)
		}
		p := e2etest.Start(t, "freerdp-shadow-"+mode, env, "freerdp-shadow-cli", args...)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		e2etest.WaitFor(t, 20*time.Second, "freerdp-shadow-cli "+mode+" on "+addr, func() bool { return listening(addr) || p.Exited() })
		if p.Exited() {
			t.Fatalf("freerdp-shadow-cli %s exited:\n%s", mode, p.Output())
		}
		if mode == "tls" {
			d.tlsAddr = addr
		} else {
			d.nlaAddr = addr
		}
	}
	return d
}

// listening reports whether addr accepts TCP connections.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// rdpDesktop starts Xvnc showing known content: a two-colour pattern
// and a gradient image window, with the cursor hidden (the server's own
// screenshot does not show it).
func rdpDesktop(t testing.TB) *vnctest.Server {
	t.Helper()
	srv := vnctest.StartXvnc(t)
	srv.Run(t, "xsetroot", "-mod", "8", "8", "-fg", "#3366cc", "-bg", "#ffcc00")
	dir := t.TempDir()
	xbm := filepath.Join(dir, "blank.xbm")
	if err := os.WriteFile(xbm, []byte("#define blank_width 8\n#define blank_height 1\n#define blank_x_hot 0\n#define blank_y_hot 0\nstatic unsigned char blank_bits[] = {\n   0x00 };\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Run(t, "xsetroot", "-cursor", xbm, xbm)
	img := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 300; x++ {
			img.SetRGBA(x, y, color.RGBA{R: uint8(255 - y), G: uint8(x * 255 / 300), B: uint8(y), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "content.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Start(t, "display", "-geometry", "+100+60", path)
	e2etest.WaitFor(t, 20*time.Second, "the image window on the screen", func() bool {
		c := srv.Screenshot(t).RGBAAt(100+150, 60+100)
		return c.R > 120 && c.R < 190 && c.G > 100 && c.G < 150 && c.B > 70 && c.B < 130 // inside the gradient
	})
	return srv
}

// screenshot is the server display's own picture of its screen.
func (d *rdpDesk) screenshot(t testing.TB) *image.RGBA { return d.srv.Screenshot(t) }

// startClientDisplay starts an Xvfb display for xfreerdp and returns ":N".
func startClientDisplay(t testing.TB) string {
	t.Helper()
	n := 500 + os.Getpid()%300
	for ; ; n++ {
		_, e1 := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n))
		_, e2 := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		if e1 != nil && e2 != nil {
			break
		}
	}
	disp := fmt.Sprintf(":%d", n)
	p := e2etest.Start(t, "Xvfb"+disp, nil, "Xvfb", disp, "-screen", "0", "1024x768x24", "-nolisten", "tcp", "-noreset")
	e2etest.WaitFor(t, 20*time.Second, "Xvfb "+disp, func() bool {
		_, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
		return err == nil || p.Exited()
	})
	if p.Exited() {
		t.Fatalf("Xvfb %s exited:\n%s", disp, p.Output())
	}
	return disp
}

// startXfreerdp runs the person's client against addr on display with
// credentials of its own (the gateway replaces them).
// endRDP closes the person's xfreerdp, ends `rdp connect` with Ctrl-C and
// waits for the session to complete with its recording.
func endRDP(t testing.TB, u *e2etest.User, client *e2etest.Proc, tun *tunnel) {
	t.Helper()
	client.Signal(syscall.SIGTERM)
	if _, err := client.Wait(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	stopConnect(t, tun)
	waitStatus(t, u, tun.ID, api.StatusCompleted, 20*time.Second)
	e2etest.WaitFor(t, 20*time.Second, "recording complete", func() bool {
		return session(t, u, tun.ID).Recording.State == api.RecordingComplete
	})
}

func startXfreerdp(t testing.TB, display, addr string, extra ...string) *e2etest.Proc {
	t.Helper()
	home := t.TempDir()
	args := append([]string{"/v:" + addr, "/cert:ignore", "/u:" + "nobody", "/p:" + "any-password", "/size:640x480"}, extra...)
	return e2etest.Start(t, "xfreerdp", []string{"DISPLAY=" + display, "HOME=" + home, "XDG_CONFIG_HOME=" + home}, "xfreerdp", args...)
}

// xdo runs xdotool on display and returns its output.
func xdo(t testing.TB, display string, args ...string) string {
	t.Helper()
	cmd := exec.Command("xdotool", args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("xdotool %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// clientWindow waits for xfreerdp's window on display and returns its id.
func clientWindow(t testing.TB, display string, client *e2etest.Proc) string {
	t.Helper()
	var win string
	e2etest.WaitFor(t, 30*time.Second, "the xfreerdp window", func() bool {
		cmd := exec.Command("xdotool", "search", "--onlyvisible", "--class", "xfreerdp")
		cmd.Env = append(os.Environ(), "DISPLAY="+display)
		out, _ := cmd.Output()
		win = strings.TrimSpace(strings.Split(string(out), "\n")[0])
		return win != "" || client.Exited()
	})
	if win == "" {
		t.Fatalf("xfreerdp exited without a window:\n%s", client.Output())
	}
	return win
}

// windowShot is what the person sees: the xfreerdp window's pixels.
func windowShot(display, win string) (*image.RGBA, error) {
	return importShot(append(os.Environ(), "DISPLAY="+display), win)
}

// importShot is ImageMagick's picture of window (an id, or root) on the
// display that env names.
func importShot(env []string, win string) (*image.RGBA, error) {
	cmd := exec.Command("import", "-window", win, "png:-")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("import -window %s: %w", win, err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		return nil, err
	}
	rgba := image.NewRGBA(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			rgba.Set(x, y, img.At(x, y))
		}
	}
	return rgba, nil
}

// waitClientShows waits until the xfreerdp window shows the server's
// screen exactly (32 bpp bitmaps are lossless) and returns the window.
func waitClientShows(t testing.TB, display string, client *e2etest.Proc, truth *image.RGBA) string {
	t.Helper()
	win := clientWindow(t, display, client)
	last := -1
	e2etest.WaitFor(t, 30*time.Second, "the xfreerdp window to show the server's screen", func() bool {
		if client.Exited() {
			t.Fatalf("xfreerdp exited:\n%s", client.Output())
		}
		img, err := windowShot(display, win)
		if err != nil {
			return false
		}
		last = vnctest.Diff(img, truth)
		return last == 0
	})
	return win
}

// exportEvents exports a desktop recording (sessions export, .dpr) and
// decodes its events.
func exportEvents(t testing.TB, u *e2etest.User, id string) (deskproto.Header, []deskproto.Event, []int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), id+".dpr")
	u.MustRun("sessions", "export", id, "-o", path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := deskproto.NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the exported recording is not deskproto: %v", err)
	}
	var evs []deskproto.Event
	var offs []int64 // the offset after each event
	for {
		ev, err := dec.Next()
		if err != nil {
			break
		}
		ev.Pix = nil
		evs, offs = append(evs, ev), append(offs, dec.Offset())
	}
	if !dec.Ended() {
		t.Fatalf("the recording of %s does not end with its end event", id)
	}
	return dec.Header(), evs, offs
}

// rdpConnect starts `onepam rdp connect resource --listen` and waits
// until it listens.
func rdpConnect(t testing.TB, u *e2etest.User, resource string) *tunnel {
	t.Helper()
	tun := connectType(t, u, "rdp", resource)
	return tun
}

// TestRDPSessions runs issue 8 as a person would: the real control,
// agent and CLI processes, freerdp-shadow-cli as the RDP server (TLS and
// NLA with credentials only the agent has) and xfreerdp as the person's
// client on its own Xvfb display, through `onepam rdp connect`.
func TestRDPSessions(t *testing.T) {
	rdpPeers(t)
	desk := startRDPDesk(t)
	display := startClientDisplay(t)
	w := newWorld(t, fmt.Sprintf(`  - name: desk
    url: rdp://%[1]s:%[2]s@%[3]s?security=tls&ignore_cert=true
  - name: desknla
    url: rdp://%[1]s:%[2]s@%[4]s?security=nla&ignore_cert=true
  - name: deskwrong
    url: rdp://%[1]s:wrong-pw@%[4]s?security=nla&ignore_cert=true
`, rdpUser, rdpPassword, desk.tlsAddr, desk.nlaAddr))
	truth := desk.screenshot(t)

	t.Run("tls: xfreerdp with any credentials, input reaches the server, the recording renders the screen", func(t *testing.T) {
		tun := rdpConnect(t, w.admin, "desk")
		if !strings.Contains(tun.Output(), "xfreerdp /v:"+tun.Addr+" /cert:ignore") {
			t.Fatalf("rdp connect does not tell which client line to use:\n%s", tun.Output())
		}
		t.Logf("rdp connect printed:\n%s", tun.Output())
		if s := session(t, w.admin, tun.ID); s.Status != api.StatusActive || s.Type != api.TypeRDP {
			t.Fatalf("session %s is %s/%s, want an active rdp session", tun.ID, s.Type, s.Status)
		}
		client := startXfreerdp(t, display, tun.Addr)
		win := waitClientShows(t, display, client, truth)

		// A click on the root window (away from the image window, which
		// would open ImageMagick's menu) and a key: 'q' is PC scan code 0x10.
		xdo(t, display, "windowfocus", "--sync", win)
		xdo(t, display, "mousemove", "--window", win, "40", "420")
		xdo(t, display, "click", "1")
		xdo(t, display, "key", "--window", win, "q")
		e2etest.WaitFor(t, 20*time.Second, "the server's pointer to move to the client's click", func() bool {
			out := xdo(t, desk.srv.DisplayName(), "getmouselocation")
			return strings.HasPrefix(out, "x:40 y:420 ")
		})
		if client.Exited() {
			t.Fatalf("xfreerdp left the session:\n%s", client.Output())
		}
		if s := session(t, w.admin, tun.ID); s.Status != api.StatusActive {
			t.Fatalf("session %s is %s while xfreerdp is connected", tun.ID, s.Status)
		}
		end := desk.screenshot(t)

		endRDP(t, w.admin, client, tun)

		hdr, evs, _ := exportEvents(t, w.admin, tun.ID)
		if hdr.Meta["protocol"] != "rdp" || hdr.Meta["session_id"] != tun.ID {
			t.Fatalf("recording header meta %v", hdr.Meta)
		}
		var keys, clicks int
		for _, e := range evs {
			switch {
			case e.Type == deskproto.EventKey && e.Scancode == 0x10:
				keys++
			case e.Type == deskproto.EventPointer && e.Buttons&1 != 0 && e.X == 40 && e.Y == 420:
				clicks++
			}
		}
		if keys < 2 || clicks < 1 {
			t.Fatalf("the recording holds %d events of key q (want press and release) and %d left clicks at 40,420", keys, clicks)
		}

		var sum struct { // pkg/cli.DesktopSummary
			Width, Height int
			Duration      float64
			Keys, Pointer int
			Complete      bool
		}
		if err := json.Unmarshal([]byte(w.admin.MustRun("sessions", "replay", tun.ID, "-o", "json")), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Width != 640 || sum.Height != 480 || !sum.Complete || sum.Keys < 2 || sum.Pointer < 1 {
			t.Fatalf("replay summary %+v", sum)
		}
		dir := t.TempDir()
		at := time.Duration(sum.Duration * float64(time.Second)).String()
		frame := strings.TrimSpace(w.admin.MustRun("sessions", "frames", tun.ID, dir, "--at", at))
		if d := vnctest.Diff(vnctest.ReadPNG(t, frame), end); d != 0 {
			t.Fatalf("the frame rebuilt from the recording at %s differs from the server's screenshot in %d pixels", at, d)
		}
	})

	t.Run("nla: the agent logs in with its stored credentials", func(t *testing.T) {
		tun := rdpConnect(t, w.admin, "desknla")
		client := startXfreerdp(t, display, tun.Addr)
		waitClientShows(t, display, client, truth)
		endRDP(t, w.admin, client, tun)
	})

	t.Run("rdp connect --launch starts xfreerdp on the desktop and ends with it", func(t *testing.T) {
		cli, _ := e2etest.Binaries(t)
		home := t.TempDir()
		env := append(w.admin.Env(), "DISPLAY="+display, "HOME="+home, "XDG_CONFIG_HOME="+home)
		p := e2etest.Start(t, "rdp-connect-launch", env, cli, "rdp", "connect", "desk", "--launch")
		waitClientShows(t, display, p, truth)
		id := sessionFromOutput(t, p.Output())
		if s := session(t, w.admin, id); s.Status != api.StatusActive {
			t.Fatalf("session %s is %s while the launched xfreerdp shows the desktop", id, s.Status)
		}
		// The person closes the client: onepam ends the session with it.
		var client int
		for _, pid := range e2etest.Descendants(p.Pid())[1:] {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(b)) == "xfreerdp" {
				client = pid
			}
		}
		if client == 0 {
			t.Fatalf("no xfreerdp process under rdp connect --launch:\n%s", p.Output())
		}
		if err := syscall.Kill(client, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(20 * time.Second); err != nil {
			t.Fatalf("rdp connect --launch still runs after xfreerdp exited: %v\n%s", err, p.Output())
		}
		waitStatus(t, w.admin, id, api.StatusCompleted, 20*time.Second)
		e2etest.WaitFor(t, 20*time.Second, "recording complete", func() bool {
			return session(t, w.admin, id).Recording.State == api.RecordingComplete
		})
		frame := strings.TrimSpace(w.admin.MustRun("sessions", "frames", id, t.TempDir(), "--at", "1h"))
		if d := vnctest.Diff(vnctest.ReadPNG(t, frame), truth); d != 0 {
			t.Fatalf("the last frame of the launched session differs from the server's screenshot in %d pixels", d)
		}
	})

	t.Run("kill closes xfreerdp and rdp connect (exit 7)", func(t *testing.T) {
		tun := rdpConnect(t, w.admin, "desk")
		client := startXfreerdp(t, display, tun.Addr)
		waitClientShows(t, display, client, truth)
		w.admin.MustRun("sessions", "kill", tun.ID, "--reason", "e2e")
		if code, err := tun.Wait(20 * time.Second); err != nil || code != 7 {
			t.Fatalf("rdp connect after kill: exit %d %v\n%s", code, err, tun.Output())
		}
		code, err := client.Wait(20 * time.Second)
		if err != nil {
			t.Fatalf("xfreerdp stayed connected after kill: %v", err)
		}
		if code == 0 {
			t.Fatalf("xfreerdp exited 0 after its session was killed, want a connection error:\n%s", client.Output())
		}
		t.Logf("xfreerdp exit code after kill: %d", code)
		waitStatus(t, w.admin, tun.ID, api.StatusTerminated, 20*time.Second)
	})

	t.Run("a wrong agent-side password fails rdp connect with exit 6", func(t *testing.T) {
		r := w.admin.Run("rdp", "connect", "deskwrong", "--listen", fmt.Sprintf("127.0.0.1:%d", e2etest.FreePort(t)))
		if r.Code != 6 {
			t.Fatalf("rdp connect with a wrong stored password: exit %d, want 6\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
		}
		if !regexp.MustCompile(`refused the NLA credentials`).MatchString(r.Stderr) {
			t.Fatalf("rdp connect with a wrong stored password does not say why:\n%s", r.Stderr)
		}
		t.Logf("rdp connect with a wrong stored password: exit 6, %s", strings.TrimSpace(r.Stderr))
	})
}
