package vnctest

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/proxytest"
)

// RequirePeer returns the path of a program a test needs: missing, it
// fails the test in CI (CI=true) and skips it elsewhere.
func RequirePeer(t testing.TB, prog string) string {
	t.Helper()
	return proxytest.RequirePeer(t, prog)
}

// Server is a VNC server on an X display, started by a test.
type Server struct {
	Display int
	Addr    string // 127.0.0.1:PORT
	// Password is the server's VNC password, set by the test that
	// configures one.
	Password string
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func freeDisplay() int {
	for n := 100 + os.Getpid()%300; ; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err != nil {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err != nil {
				return n
			}
		}
	}
}

// waitPort polls until addr accepts connections (and gets the first
// bytes), failing the test after 20 s.
func waitPort(t testing.TB, addr string, exited func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if exited() {
			t.Fatalf("the VNC server for %s exited", addr)
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			var b [12]byte
			_, err = c.Read(b[:])
			c.Close()
			if err == nil {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the VNC server did not listen on %s", addr)
}

func (s *Server) start(t testing.TB, name string, args ...string) (exited func() bool) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+s.DisplayName())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
}

// StartXvnc starts TigerVNC's Xvnc (640x480, depth 24) on a free display
// and port with the extra arguments (default: -SecurityTypes None).
func StartXvnc(t testing.TB, extra ...string) *Server {
	t.Helper()
	RequirePeer(t, "Xvnc")
	if len(extra) == 0 {
		extra = []string{"-SecurityTypes", "None"}
	}
	var lastErr string
	for attempt := 0; attempt < 5; attempt++ {
		s := &Server{Display: freeDisplay()}
		port := FreePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		args := append([]string{s.DisplayName(), "-geometry", "640x480", "-depth", "24", "-rfbport", strconv.Itoa(port), "-localhost", "-nolisten", "tcp", "-AlwaysShared"}, extra...)
		cmd := exec.Command("Xvnc", args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start Xvnc: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		exited := func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		}
		ok := false
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && !exited() {
			if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				var b [12]byte
				_, err = c.Read(b[:])
				c.Close()
				if err == nil {
					ok = true
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ok {
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-done
				if t.Failed() {
					t.Logf("Xvnc output:\n%s", out.String())
				}
			})
			return s
		}
		cmd.Process.Kill()
		<-done
		lastErr = out.String()
	}
	t.Fatalf("Xvnc did not start:\n%s", lastErr)
	return nil
}

// StartX11vnc starts Xvfb on a free display and x11vnc serving it.
func StartX11vnc(t testing.TB) *Server {
	t.Helper()
	RequirePeer(t, "Xvfb")
	RequirePeer(t, "x11vnc")
	s := &Server{Display: freeDisplay()}
	xvfb := s.start(t, "Xvfb", s.DisplayName(), "-screen", "0", "640x480x24", "-nolisten", "tcp")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", s.Display)); err == nil {
			break
		}
		if time.Now().After(deadline) || xvfb() {
			t.Fatal("Xvfb did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	port := FreePort(t)
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	x := s.start(t, "x11vnc", "-display", s.DisplayName(), "-localhost", "-rfbport", strconv.Itoa(port), "-forever", "-shared", "-nopw", "-quiet", "-nocursor")
	waitPort(t, s.Addr, x)
	return s
}

// DisplayName is ":N".
func (s *Server) DisplayName() string { return ":" + strconv.Itoa(s.Display) }

// Run runs a program on the server's display and waits for it.
func (s *Server) Run(t testing.TB, name string, args ...string) {
	t.Helper()
	RequirePeer(t, name)
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+s.DisplayName())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// Start starts a long-running program (e.g. xclock) on the display; it is
// killed at the end of the test.
func (s *Server) Start(t testing.TB, name string, args ...string) {
	t.Helper()
	RequirePeer(t, name)
	s.start(t, name, args...)
}

// Screenshot returns the server's own screenshot of the root window
// (ImageMagick's import), the ground truth for comparisons.
func (s *Server) Screenshot(t testing.TB) *image.RGBA {
	t.Helper()
	RequirePeer(t, "import")
	path := filepath.Join(t.TempDir(), "truth.png")
	s.Run(t, "import", "-window", "root", path)
	return ReadPNG(t, path)
}

// ReadPNG reads an image file as RGBA.
func ReadPNG(t testing.TB, path string) *image.RGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	out := image.NewRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	return out
}

// Diff counts the pixels whose RGB differ (images of different sizes
// differ everywhere).
func Diff(a, b *image.RGBA) int {
	if a.Bounds().Size() != b.Bounds().Size() {
		return max(a.Bounds().Dx()*a.Bounds().Dy(), b.Bounds().Dx()*b.Bounds().Dy())
	}
	n := 0
	w, h := a.Bounds().Dx(), a.Bounds().Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i, j := y*a.Stride+x*4, y*b.Stride+x*4
			if a.Pix[i] != b.Pix[j] || a.Pix[i+1] != b.Pix[j+1] || a.Pix[i+2] != b.Pix[j+2] {
				n++
			}
		}
	}
	return n
}
