package rdp

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/proxytest"
)

// peers are the real programs the tests run: an Xvnc display drawing
// known content, freerdp-shadow-cli serving it over RDP with TLS and
// with NLA, and an Xvfb display for the xfreerdp client. They start
// once per test binary, on first use, and stop in TestMain.
type peers struct {
	dir              string
	serverDisplay    string // Xvnc (freerdp-shadow-cli cannot read Xvfb here)
	clientDisplay    string // Xvfb for xfreerdp
	tlsAddr, nlaAddr string
	user, pass       string
	procs            []*exec.Cmd
	err              error
}

var (
	peerOnce sync.Once
	thePeers peers
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range thePeers.procs {
		c.Process.Kill()
		c.Wait()
	}
	if thePeers.dir != "" {
		os.RemoveAll(thePeers.dir)
	}
	os.Exit(code)
}

// getPeers starts the peers (once) or skips/fails the test when a
// program is missing.
func getPeers(t testing.TB) *peers {
	t.Helper()
	for _, p := range []string{"Xvnc", "Xvfb", "freerdp-shadow-cli", "xfreerdp", "winpr-hash", "xsetroot", "import", "xdotool"} {
		proxytest.RequirePeer(t, p)
	}
	peerOnce.Do(func() { thePeers.err = thePeers.start() })
	if thePeers.err != nil {
		t.Fatalf("start peers: %v", thePeers.err)
	}
	return &thePeers
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeDisplay returns an X display number nobody uses.
func freeDisplay(from int) int {
	for n := from; ; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); os.IsNotExist(err) {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); os.IsNotExist(err) {
				return n
			}
		}
	}
}

func (p *peers) run(env []string, name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	log, err := os.Create(filepath.Join(p.dir, filepath.Base(name)+strconv.Itoa(len(p.procs))+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.procs = append(p.procs, cmd)
	return cmd, nil
}

func waitFor(what string, cond func() bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func (p *peers) start() error {
	var err error
	if p.dir, err = os.MkdirTemp("", "rdp-peers-"); err != nil {
		return err
	}
	p.user, p.pass = "alice", "S3cret-pw"
	sd := freeDisplay(60)
	p.serverDisplay = fmt.Sprintf(":%d", sd)
	if _, err := p.run(nil, "Xvnc", p.serverDisplay, "-geometry", "640x480", "-depth", "24", "-rfbport", "-1", "-SecurityTypes", "None", "-nolisten", "tcp"); err != nil {
		return err
	}
	if err := waitFor("Xvnc", func() bool { _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", sd)); return err == nil }); err != nil {
		return err
	}
	cd := freeDisplay(sd + 1)
	p.clientDisplay = fmt.Sprintf(":%d", cd)
	if _, err := p.run(nil, "Xvfb", p.clientDisplay, "-screen", "0", "1024x768x24", "-nolisten", "tcp"); err != nil {
		return err
	}
	if err := waitFor("Xvfb", func() bool { _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", cd)); return err == nil }); err != nil {
		return err
	}
	if out, err := exec.Command("env", "DISPLAY="+p.serverDisplay, "xsetroot", "-mod", "8", "8", "-fg", "#3366cc", "-bg", "#ffcc00").CombinedOutput(); err != nil {
		return fmt.Errorf("xsetroot: %v: %s", err, out)
	}
	sam, err := exec.Command("winpr-hash", "-u", p.user, "-p", p.pass, "-f", "sam").Output()
	if err != nil {
		return fmt.Errorf("winpr-hash: %w", err)
	}
	samFile := filepath.Join(p.dir, "sam")
	if err := os.WriteFile(samFile, sam, 0o600); err != nil {
		return err
	}
	home := filepath.Join(p.dir, "home")
	os.MkdirAll(home, 0o700)
	env := []string{"DISPLAY=" + p.serverDisplay, "HOME=" + home, "XDG_CONFIG_HOME=" + home}
	for _, mode := range []string{"tls", "nla"} {
		port, err := freePort()
		if err != nil {
			return err
		}
		args := []string{"/port:" + strconv.Itoa(port), "/bind-address:127.0.0.1"}
		if mode == "tls" {
			args = append(args, "-auth", "/sec:tls")
		} else {
			args = append(args, "/sec:nla", "/sam-file:"+samFile)
		}
		if _, err := p.run(env, "freerdp-shadow-cli", args...); err != nil {
			return err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := waitFor("freerdp-shadow-cli "+mode, func() bool { return listening(addr) }); err != nil {
			return err
		}
		if mode == "tls" {
			p.tlsAddr = addr
		} else {
			p.nlaAddr = addr
		}
	}
	return nil
}

// screenshot returns the server display's own picture.
func (p *peers) screenshot(t *testing.T) *image.RGBA {
	t.Helper()
	out, err := exec.Command("env", "DISPLAY="+p.serverDisplay, "import", "-window", "root", "png:-").Output()
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	rgba := image.NewRGBA(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			rgba.Set(x, y, img.At(x, y))
		}
	}
	return rgba
}

// diffPixels counts pixels whose RGB channels differ by more than
// fuzz (0: ImageMagick's compare -metric AE); a size mismatch counts
// every pixel.
func diffPixels(a, b *image.RGBA, fuzz int) int {
	if a.Bounds().Size() != b.Bounds().Size() {
		return a.Bounds().Dx() * a.Bounds().Dy()
	}
	n := 0
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			i, j := a.PixOffset(x+a.Rect.Min.X, y+a.Rect.Min.Y), b.PixOffset(x+b.Rect.Min.X, y+b.Rect.Min.Y)
			if absDiff(a.Pix[i], b.Pix[j]) > fuzz || absDiff(a.Pix[i+1], b.Pix[j+1]) > fuzz || absDiff(a.Pix[i+2], b.Pix[j+2]) > fuzz {
				n++
			}
		}
	}
	return n
}

// xfreerdp starts the person's client against addr on the client
// display; extra arguments are appended.
func (p *peers) xfreerdp(t *testing.T, addr string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"/v:" + addr, "/cert:ignore", "/u:person", "/p:not-used", "/size:640x480"}, extra...)
	cmd := exec.Command("xfreerdp", args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "DISPLAY="+p.clientDisplay, "HOME="+home, "XDG_CONFIG_HOME="+home)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("xfreerdp output:\n%s", out.String())
		}
	})
	return cmd
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
