package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
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

// xrdpDesk is xrdp with xrdp-sesman and xorgxrdp serving one local test
// user (made for the test, removed after) whose X session draws known
// content: a solid background, an image window at +100+60 and no
// cursor, and logs the key presses on its root window.
type xrdpDesk struct {
	addr           string // xrdp's listen address
	user, password string
	home           string
}

// xrdpPeers skips (fails with CI=true) when xrdp cannot run here: its
// programs, xorgxrdp, and root (sesman starts sessions as the user).
func xrdpPeers(t testing.TB) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: a missing peer is a failure; ./scripts/test installs xrdp and xorgxrdp)", what)
		}
		t.Skipf("%s; ./scripts/test installs it (skipping outside CI)", what)
	}
	for _, p := range []string{"xrdp", "xrdp-sesman", "Xorg", "useradd", "userdel", "chpasswd", "runuser", "xev", "xclip",
		"xfreerdp", "rdesktop", "fusermount", "Xvfb", "xdotool", "import", "display", "xsetroot"} {
		if _, err := exec.LookPath(p); err != nil {
			if _, err := os.Stat("/usr/sbin/" + p); err != nil {
				missing(p + " is not installed")
			}
		}
	}
	if _, err := os.Stat("/usr/lib/xorg/modules/drivers/xrdpdev_drv.so"); err != nil {
		missing("xorgxrdp is not installed")
	}
	if os.Geteuid() != 0 {
		missing("xrdp-sesman must run as root to start a session as the test user")
	}
}

// sesmanPort is the port xrdp looks for xrdp-sesman on: xrdp reads it
// from the system's sesman.ini whatever its own configuration says.
func sesmanPort(t testing.TB) int {
	t.Helper()
	port := 3350
	f, err := os.Open("/etc/xrdp/sesman.ini")
	if err != nil {
		return port
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	section := ""
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok && section == "[Globals]" && strings.EqualFold(strings.TrimSpace(k), "ListenPort") {
			if p, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				port = p
			}
		}
	}
	return port
}

// xrdpContent is the image the test user's session shows.
func xrdpContent() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 240, 160))
	for y := 0; y < 160; y++ {
		for x := 0; x < 240; x++ {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x), G: uint8(255 - y), B: uint8((x + y) / 2), A: 255})
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// startXrdp makes the test user and starts xrdp-sesman and xrdp with a
// private configuration: TLS only with a certificate made here, the
// Xorg (xorgxrdp) session type only, started at once with the Client
// Info PDU's credentials.
func startXrdp(t testing.TB) *xrdpDesk {
	t.Helper()
	xrdpPeers(t)
	sport := sesmanPort(t)
	if listening(fmt.Sprintf("127.0.0.1:%d", sport)) || listening(fmt.Sprintf("[::1]:%d", sport)) {
		t.Fatalf("port %d, where xrdp looks for xrdp-sesman, is taken by another program", sport)
	}
	dir := t.TempDir()
	d := &xrdpDesk{user: "opx" + randHex(4), password: "Pw-" + randHex(8)}

	base, err := os.MkdirTemp("", "onepam-xrdp-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	d.home = filepath.Join(base, d.user)
	if out, err := exec.Command("useradd", "-m", "-d", d.home, "-s", "/bin/sh", d.user).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		d.killUserProcs()
		// xrdp-chansrv's FUSE mount of the person's drives outlives it.
		exec.Command("umount", "-l", filepath.Join(d.home, "thinclient_drives")).Run()
		if out, err := exec.Command("userdel", "-f", d.user).CombinedOutput(); err != nil {
			t.Logf("userdel %s: %v\n%s", d.user, err, out)
		}
	})
	chpw := exec.Command("chpasswd")
	chpw.Stdin = strings.NewReader(d.user + ":" + d.password + "\n")
	if out, err := chpw.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v\n%s", err, out)
	}
	d.writeSession(t)

	key, cert := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
		"-days", "2", "-subj", "/CN=xrdp-e2e").CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	port := e2etest.FreePort(t)
	d.addr = fmt.Sprintf("127.0.0.1:%d", port)
	xrdpINI := fmt.Sprintf(`[Globals]
ini_version=1
fork=true
port=tcp://127.0.0.1:%d
security_layer=tls
crypt_level=high
certificate=%s
key_file=%s
ssl_protocols=TLSv1.2, TLSv1.3
autorun=Xorg
allow_channels=true
bitmap_cache=true
bitmap_compression=true
bulk_compression=true
max_bpp=32
new_cursors=true
use_fastpath=both
[Logging]
LogFile=%s
LogLevel=INFO
EnableSyslog=false
[Channels]
rdpdr=true
rdpsnd=false
drdynvc=true
cliprdr=true
rail=false
xrdpvr=false
tcutils=false
[Xorg]
name=Xorg
lib=libxup.so
username=ask
password=ask
ip=127.0.0.1
port=-1
code=20
`, port, cert, key, filepath.Join(dir, "xrdp.log"))
	sesmanINI := fmt.Sprintf(`[Globals]
ListenAddress=127.0.0.1
ListenPort=%d
EnableUserWindowManager=true
UserWindowManager=.xsession
DefaultWindowManager=startwm.sh
ReconnectScript=reconnectwm.sh
[Security]
AllowRootLogin=false
MaxLoginRetry=4
AlwaysGroupCheck=false
[Sessions]
X11DisplayOffset=%d
MaxSessions=100
KillDisconnected=false
DisconnectedTimeLimit=0
IdleTimeLimit=0
Policy=Default
[Logging]
LogFile=%s
LogLevel=INFO
EnableSyslog=false
[Xorg]
param=/usr/lib/xorg/Xorg
param=-config
param=xrdp/xorg.conf
param=-noreset
param=-nolisten
param=tcp
param=-logfile
param=.xorgxrdp.%%s.log
[Chansrv]
FuseMountName=thinclient_drives
FileUmask=077
[ChansrvLogging]
LogLevel=INFO
EnableSyslog=false
`, sport, 300+os.Getpid()%200, filepath.Join(dir, "sesman.log"))
	for name, body := range map[string]string{"xrdp.ini": xrdpINI, "sesman.ini": sesmanINI} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll("/run/xrdp/sockdir", 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod("/run/xrdp/sockdir", 0o1777|os.ModeSticky)

	sesman := e2etest.Start(t, "xrdp-sesman", nil, "xrdp-sesman", "-n", "-c", filepath.Join(dir, "sesman.ini"))
	// sesman and xrdp fork a process per session and per connection;
	// end them all (their ids, children first) before the test's own
	// cleanup kills the parents.
	t.Cleanup(func() { d.killUserProcs(); killTree(sesman.Pid()) })
	e2etest.WaitFor(t, 20*time.Second, "xrdp-sesman on port "+strconv.Itoa(sport), func() bool {
		return listening(fmt.Sprintf("127.0.0.1:%d", sport)) || listening(fmt.Sprintf("[::1]:%d", sport)) || sesman.Exited()
	})
	if sesman.Exited() {
		t.Fatalf("xrdp-sesman exited:\n%s\n%s", sesman.Output(), readFile(filepath.Join(dir, "sesman.log")))
	}
	xrdp := e2etest.Start(t, "xrdp", nil, "xrdp", "-n", "-c", filepath.Join(dir, "xrdp.ini"))
	t.Cleanup(func() { killTree(xrdp.Pid()) })
	e2etest.WaitFor(t, 20*time.Second, "xrdp on "+d.addr, func() bool { return listening(d.addr) || xrdp.Exited() })
	if xrdp.Exited() {
		t.Fatalf("xrdp exited:\n%s\n%s", xrdp.Output(), readFile(filepath.Join(dir, "xrdp.log")))
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- xrdp.log ---\n%s\n--- sesman.log ---\n%s", readFile(filepath.Join(dir, "xrdp.log")), readFile(filepath.Join(dir, "sesman.log")))
			logs, _ := filepath.Glob(filepath.Join(d.home, ".local", "share", "xrdp", "*.log"))
			for _, l := range logs {
				t.Logf("--- %s ---\n%s", filepath.Base(l), readFile(l))
			}
		}
	})
	return d
}

// writeSession writes the test user's ~/.xsession: it names its display
// in ~/display, paints the background, hides the cursor, shows the
// image, and logs key presses on the root window to ~/keys.log.
func (d *xrdpDesk) writeSession(t testing.TB) {
	t.Helper()
	files := map[string][]byte{
		"content.png": xrdpContent(),
		"blank.xbm":   []byte("#define blank_width 8\n#define blank_height 1\n#define blank_x_hot 0\n#define blank_y_hot 0\nstatic unsigned char blank_bits[] = {\n   0x00 };\n"),
		".xsession": []byte(`#!/bin/sh
cd "$HOME"
xsetroot -solid '#3366cc'
xsetroot -cursor blank.xbm blank.xbm
display -geometry +100+60 content.png &
echo "$DISPLAY" > display.tmp && mv display.tmp display
exec stdbuf -oL xev -root -event keyboard > keys.log
`),
	}
	u, err := lookupIDs(d.user)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(d.home, name)
		if err := os.WriteFile(p, body, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, u[0], u[1]); err != nil {
			t.Fatal(err)
		}
	}
}

// lookupIDs returns a user's uid and gid.
func lookupIDs(user string) ([2]int, error) {
	out, err := exec.Command("id", "-u", user).Output()
	if err != nil {
		return [2]int{}, fmt.Errorf("id -u %s: %w", user, err)
	}
	uid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, err = exec.Command("id", "-g", user).Output()
	if err != nil {
		return [2]int{}, fmt.Errorf("id -g %s: %w", user, err)
	}
	gid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return [2]int{uid, gid}, nil
}

// display waits for the user's session and returns its DISPLAY.
func (d *xrdpDesk) display(t testing.TB) string {
	t.Helper()
	var disp string
	e2etest.WaitFor(t, 30*time.Second, "the xrdp session of "+d.user+" to start", func() bool {
		b, err := os.ReadFile(filepath.Join(d.home, "display"))
		disp = strings.TrimSpace(string(b))
		return err == nil && disp != ""
	})
	return disp
}

// xenv is what an X client needs to reach the user's session.
func (d *xrdpDesk) xenv(disp string) []string {
	return []string{"DISPLAY=" + disp, "XAUTHORITY=" + filepath.Join(d.home, ".Xauthority")}
}

// env is the environment of an X client on the user's session.
func (d *xrdpDesk) env(disp string) []string { return append(os.Environ(), d.xenv(disp)...) }

// screenshot is the session display's own picture of its screen.
func (d *xrdpDesk) screenshot(t testing.TB, disp string) (*image.RGBA, error) {
	return importShot(d.env(disp), "root")
}

// waitDrawn waits until the session shows its content (the background
// and the image window) and returns the screenshot.
func (d *xrdpDesk) waitDrawn(t testing.TB, disp string) *image.RGBA {
	t.Helper()
	var img *image.RGBA
	var err error
	var bg, in color.RGBA
	defer func() {
		if t.Failed() {
			t.Logf("the session on %s: screenshot error %v, background %v, inside the image %v", disp, err, bg, in)
		}
	}()
	e2etest.WaitFor(t, 30*time.Second, "the xrdp session to draw its content", func() bool {
		if img, err = d.screenshot(t, disp); err != nil {
			return false
		}
		bg, in = img.RGBAAt(5, 5), img.RGBAAt(100+120, 60+80)
		return bg == (color.RGBA{0x33, 0x66, 0xcc, 0xff}) && in.R > 100 && in.R < 140 && in.G > 155 && in.G < 195 // inside the gradient
	})
	return img
}

// run runs an X client on the user's session (as root, with the
// session's X authority) and returns its output.
func (d *xrdpDesk) run(disp, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = d.env(disp)
	out, err := cmd.Output()
	return string(out), err
}

// runAsUser runs a command as the test user (whose FUSE mounts root
// cannot read) and returns its output.
func (d *xrdpDesk) runAsUser(name string, args ...string) (string, error) {
	out, err := exec.Command("runuser", append([]string{"-u", d.user, "--", name}, args...)...).Output()
	return string(out), err
}

// startRdesktop runs rdesktop as the person's client (with any
// credentials: the agent logs in), accepting the agent's certificate.
func startRdesktop(t testing.TB, display, addr string, extra ...string) *e2etest.Proc {
	t.Helper()
	home := t.TempDir()
	args := append([]string{"-u", "nobody", "-p", "any-password", "-g", "640x480", "-a", "24"}, extra...)
	q := make([]string, 0, len(args)+1)
	for _, a := range append(args, addr) {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return e2etest.Start(t, "rdesktop", []string{"DISPLAY=" + display, "HOME=" + home}, "sh", "-c", "echo yes | exec rdesktop "+strings.Join(q, " "))
}

// endSession closes the client and rdp connect and waits until the
// session's recording is complete.
func endSession(t testing.TB, w *world, tun *tunnel, client *e2etest.Proc) {
	t.Helper()
	client.Signal(syscall.SIGTERM)
	client.Wait(20 * time.Second)
	tun.Signal(syscall.SIGINT)
	tun.Wait(20 * time.Second)
	waitStatus(t, w.admin, tun.ID, api.StatusCompleted, 20*time.Second)
	e2etest.WaitFor(t, 20*time.Second, "recording complete", func() bool {
		return session(t, w.admin, tun.ID).Recording.State == api.RecordingComplete
	})
}

// wantFile is a file event a session must have (bytes -1: any).
type wantFile struct {
	proto, op, path string
	bytes           int64
}

// checkFileEvents checks sessions files -o json and sessions show.
func checkFileEvents(t testing.TB, w *world, id string, want []wantFile) {
	t.Helper()
	var evs []api.FileEvent
	if err := json.Unmarshal([]byte(w.admin.MustRun("sessions", "files", id, "-o", "json")), &evs); err != nil {
		t.Fatal(err)
	}
	show := w.admin.MustRun("sessions", "show", id)
	for _, c := range want {
		found := false
		for _, e := range evs {
			found = found || e.Protocol == c.proto && e.Op == c.op && e.Path == c.path && (c.bytes < 0 || e.Bytes == c.bytes)
		}
		if !found {
			t.Errorf("sessions files has no %s %s of %s (%d bytes): %+v", c.proto, c.op, c.path, c.bytes, evs)
		}
		if !strings.Contains(show, c.path) {
			t.Errorf("sessions show does not list %s %s:\n%s", c.op, c.path, show)
		}
	}
}

// killUserProcs ends the test user's processes (its X session), by id.
// Xorg is asked first (SIGTERM) so that it removes its display's lock
// and socket; what is left of a display it could not clean is removed.
func (d *xrdpDesk) killUserProcs() {
	ids, err := lookupIDs(d.user)
	if err != nil {
		return
	}
	for _, pid := range userPids(ids[0]) {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(userPids(ids[0])) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, pid := range userPids(ids[0]) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if b, err := os.ReadFile(filepath.Join(d.home, "display")); err == nil {
		n := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(b)), ":"), ".0")
		lock := "/tmp/.X" + n + "-lock"
		var st syscall.Stat_t
		if syscall.Stat(lock, &st) == nil && int(st.Uid) == ids[0] {
			os.Remove(lock)
			os.Remove("/tmp/.X11-unix/X" + n)
		}
	}
}

// userPids lists the processes running as uid.
func userPids(uid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name()), &st) == nil && int(st.Uid) == uid {
			out = append(out, pid)
		}
	}
	return out
}

// killTree kills pid's descendants, deepest last started first, then pid.
func killTree(pid int) {
	ps := e2etest.Descendants(pid)
	for i := len(ps) - 1; i >= 1; i-- {
		syscall.Kill(ps[i], syscall.SIGKILL)
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// TestXrdpSessions runs xrdp (security_layer=tls, xorgxrdp) as the RDP
// server of a local test user, through `onepam rdp connect` with the
// user's credentials held by the agent only: the session's own
// screenshot equals the xfreerdp window and the frame rebuilt from the
// recording, and keys typed into xfreerdp reach the session.
func TestXrdpSessions(t *testing.T) {
	desk := startXrdp(t)
	clientDisplay := startClientDisplay(t)
	w := newWorld(t, fmt.Sprintf(`  - name: xrdp
    url: rdp://%[1]s:%[2]s@%[3]s?security=tls&ignore_cert=true
  - name: xrdplocked
    url: rdp://%[1]s:%[2]s@%[3]s?security=tls&ignore_cert=true&clipboard=off&drives=off
`, desk.user, desk.password, desk.addr))

	for _, bpp := range []string{"32", "24"} {
		t.Run("xfreerdp /bpp:"+bpp+" through rdp connect reaches the user's session; recording equals the screen; keys arrive", func(t *testing.T) {
			xrdpSession(t, w, desk, clientDisplay, bpp)
		})
	}
	t.Run("clipboard both ways is file activity and in the recording", func(t *testing.T) {
		tun := rdpConnect(t, w.admin, "xrdp")
		client := startXfreerdp(t, clientDisplay, tun.Addr, "/bpp:32", "+clipboard")
		disp := desk.display(t)
		waitClientShows(t, clientDisplay, client, desk.waitDrawn(t, disp))

		// The person copies text; the desktop pastes it.
		up := "pasted into the desktop " + randHex(4)
		src := filepath.Join(t.TempDir(), "up.txt")
		if err := os.WriteFile(src, []byte(up), 0o644); err != nil {
			t.Fatal(err)
		}
		e2etest.Start(t, "xclip-client", []string{"DISPLAY=" + clientDisplay}, "xclip", "-quiet", "-selection", "clipboard", "-i", src)
		e2etest.WaitFor(t, 30*time.Second, "the person's clipboard text on the desktop", func() bool {
			out, _ := desk.run(disp, "xclip", "-o", "-selection", "clipboard")
			return out == up
		})
		// The desktop copies text; the person pastes it.
		down := "copied on the desktop " + randHex(4)
		dsrc := filepath.Join(t.TempDir(), "down.txt")
		if err := os.WriteFile(dsrc, []byte(down), 0o644); err != nil {
			t.Fatal(err)
		}
		e2etest.Start(t, "xclip-desktop", desk.xenv(disp), "xclip", "-quiet", "-selection", "clipboard", "-i", dsrc)
		e2etest.WaitFor(t, 30*time.Second, "the desktop's clipboard text at the person", func() bool {
			cmd := exec.Command("xclip", "-o", "-selection", "clipboard")
			cmd.Env = append(os.Environ(), "DISPLAY="+clientDisplay)
			out, _ := cmd.Output()
			return string(out) == down
		})
		// The person copies a file; the desktop pastes it (xrdp-chansrv
		// shows clipboard files under ~/thinclient_drives/.clipboard and
		// pulls their contents when read).
		content := "a file copied through the clipboard " + randHex(4)
		dir, err := os.MkdirTemp("", "onepam-clip-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		file := filepath.Join(dir, "copied.txt")
		uris := filepath.Join(dir, "uris")
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(uris, []byte("file://"+file), 0o644); err != nil {
			t.Fatal(err)
		}
		e2etest.Start(t, "xclip-client-file", []string{"DISPLAY=" + clientDisplay}, "xclip", "-quiet", "-selection", "clipboard", "-t", "text/uri-list", "-i", uris)
		e2etest.WaitFor(t, 30*time.Second, "the copied file on the desktop", func() bool {
			out, _ := desk.run(disp, "xclip", "-o", "-selection", "clipboard", "-t", "text/uri-list")
			if !strings.HasSuffix(strings.TrimSpace(out), "/copied.txt") {
				return false
			}
			got, _ := desk.runAsUser("cat", filepath.Join(desk.home, "thinclient_drives", ".clipboard", "copied.txt"))
			return got == content
		})
		endSession(t, w, tun, client)

		checkFileEvents(t, w, tun.ID, []wantFile{
			{"rdp-clipboard", "upload", `CF_UNICODETEXT ` + strconv.Quote(up), -1},
			{"rdp-clipboard", "download", `CF_UNICODETEXT ` + strconv.Quote(down), -1},
			{"rdp-clipboard", "upload", `FileGroupDescriptorW "copied.txt"`, -1},
			{"rdp-clipboard", "upload", "copied.txt", int64(len(content))},
		})
		_, rec, _ := exportEvents(t, w.admin, tun.ID)
		clips := map[deskproto.ClipDir]bool{}
		for _, e := range rec {
			if e.Type == deskproto.EventClipboard && (e.Text == up && e.Dir == deskproto.ClipToDesktop || e.Text == down && e.Dir == deskproto.ClipToPerson) {
				clips[e.Dir] = true
			}
		}
		if !clips[deskproto.ClipToDesktop] || !clips[deskproto.ClipToPerson] {
			t.Errorf("the recording's clipboard events: to the desktop %v, to the person %v", clips[deskproto.ClipToDesktop], clips[deskproto.ClipToPerson])
		}
	})

	t.Run("a redirected drive's files read, written and deleted by the desktop are file activity", func(t *testing.T) {
		// rdesktop announces its drives at once; xfreerdp 2 waits for a
		// user-logged-on message that xrdp 0.9 does not send.
		// rdesktop separates disks with commas, which test names hold.
		shared, err := os.MkdirTemp("", "onepam-drive-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(shared) })
		secret := "drive file content " + randHex(8)
		if err := os.WriteFile(filepath.Join(shared, "hello.txt"), []byte(secret), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shared, "old.txt"), []byte("old"), 0o666); err != nil {
			t.Fatal(err)
		}
		tun := rdpConnect(t, w.admin, "xrdp")
		client := startRdesktop(t, clientDisplay, tun.Addr, "-r", "disk:share="+shared)
		desk.waitDrawn(t, desk.display(t))
		drive := filepath.Join(desk.home, "thinclient_drives", "share")
		var got string
		e2etest.WaitFor(t, 30*time.Second, "hello.txt of the redirected drive on the desktop", func() bool {
			got, _ = desk.runAsUser("cat", filepath.Join(drive, "hello.txt"))
			return got == secret || client.Exited()
		})
		if got != secret {
			t.Fatalf("rdesktop exited:\n%s", client.Output())
		}
		written := "written by the desktop " + randHex(4)
		if out, err := desk.runAsUser("sh", "-c", "printf %s \"$1\" > \"$2\"/new.txt && rm \"$2\"/old.txt", "sh", written, drive); err != nil {
			t.Fatalf("write and delete on the redirected drive: %v %s", err, out)
		}
		if b, err := os.ReadFile(filepath.Join(shared, "new.txt")); err != nil || string(b) != written {
			t.Fatalf("new.txt on the person's side: %q %v", b, err)
		}
		endSession(t, w, tun, client)
		checkFileEvents(t, w, tun.ID, []wantFile{
			{"rdp-drive", "upload", `\\tsclient\share\hello.txt`, int64(len(secret))},
			{"rdp-drive", "download", `\\tsclient\share\new.txt`, int64(len(written))},
			{"rdp-drive", "delete", `\\tsclient\share\old.txt`, 0},
		})
	})

	t.Run("clipboard=off and drives=off withhold both channels from xrdp", func(t *testing.T) {
		tun := rdpConnect(t, w.admin, "xrdplocked")
		client := startXfreerdp(t, clientDisplay, tun.Addr, "/bpp:32", "+clipboard", "/drive:share,"+t.TempDir())
		disp := desk.display(t)
		waitClientShows(t, clientDisplay, client, desk.waitDrawn(t, disp))
		client.Signal(syscall.SIGTERM)
		client.Wait(20 * time.Second)
		tun.Signal(syscall.SIGINT)
		tun.Wait(20 * time.Second)
		waitStatus(t, w.admin, tun.ID, api.StatusCompleted, 20*time.Second)
		e2etest.WaitFor(t, 20*time.Second, "recording complete", func() bool {
			return session(t, w.admin, tun.ID).Recording.State == api.RecordingComplete
		})
		_, rec, _ := exportEvents(t, w.admin, tun.ID)
		var chans string
		for _, e := range rec {
			if e.Type == deskproto.EventMeta && e.Key == "channels" {
				chans = e.Text
			}
		}
		if !strings.Contains(chans, "cliprdr (withheld)") || !strings.Contains(chans, "rdpdr (withheld)") {
			t.Fatalf("the recording's channel list %q does not show cliprdr and rdpdr withheld", chans)
		}
	})
}

// xrdpSession connects xfreerdp at bpp to the xrdp resource, checks that
// its window shows the session, that a key reaches the session, and
// that the frame rebuilt from the recording equals the session's
// screenshot.
func xrdpSession(t *testing.T, w *world, desk *xrdpDesk, clientDisplay, bpp string) {
	t.Helper()
	tun := rdpConnect(t, w.admin, "xrdp")
	client := startXfreerdp(t, clientDisplay, tun.Addr, "/bpp:"+bpp)
	disp := desk.display(t)
	truth := desk.waitDrawn(t, disp)
	win := waitClientShows(t, clientDisplay, client, truth)

	// Key presses go to the root window where the pointer is (no
	// window manager): move it onto the background, then type.
	xdo(t, clientDisplay, "windowfocus", "--sync", win)
	xdo(t, clientDisplay, "mousemove", "--window", win, "40", "420")
	xdo(t, clientDisplay, "click", "1")
	keys := func() int { return strings.Count(readFile(filepath.Join(desk.home, "keys.log")), "(keysym 0x71, q)") }
	before := keys()
	xdo(t, clientDisplay, "key", "--window", win, "q")
	e2etest.WaitFor(t, 20*time.Second, "key q in the session's key log", func() bool { return keys() > before })
	end, err := desk.screenshot(t, disp)
	if err != nil {
		t.Fatal(err)
	}

	endRDP(t, w.admin, client, tun)
	hdr, evs, _ := exportEvents(t, w.admin, tun.ID)
	if hdr.Meta["protocol"] != "rdp" {
		t.Fatalf("recording header meta %v", hdr.Meta)
	}
	qs := 0
	var last time.Duration
	for _, e := range evs {
		if e.Type == deskproto.EventKey && e.Scancode == 0x10 { // 'q'
			qs++
		}
		last = max(last, e.T)
	}
	if qs < 2 {
		t.Fatalf("the recording holds %d events of key q, want press and release", qs)
	}
	frame := strings.TrimSpace(w.admin.MustRun("sessions", "frames", tun.ID, t.TempDir(), "--at", last.String()))
	if n := vnctest.Diff(vnctest.ReadPNG(t, frame), end); n != 0 {
		t.Fatalf("the frame rebuilt from the recording at %s differs from the xrdp session's screenshot in %d pixels", last, n)
	}
}
