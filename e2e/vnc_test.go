package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/vnc/rfb"
	"github.com/onepam/onepam/agent/proxy/vnc/vnctest"
	"github.com/onepam/onepam/e2e/e2etest"
	"github.com/onepam/onepam/pkg/api"
)

const vncPassword = "s3cret99" // VNC passwords are at most 8 characters

// vncDesktop starts Xvnc (extra: its security arguments) with known
// content (a two-colour pattern and an image window), the cursor hidden
// (the server's own screenshot does not show it), and returns it with
// that screenshot.
func vncDesktop(t *testing.T, password string, extra ...string) (*vnctest.Server, string) {
	t.Helper()
	srv := vnctest.StartXvnc(t, extra...)
	srv.Password = password
	srv.Run(t, "xsetroot", "-mod", "8", "8", "-fg", "#3366cc", "-bg", "#ffcc00")
	dir := t.TempDir()
	xbm := filepath.Join(dir, "blank.xbm")
	if err := os.WriteFile(xbm, []byte("#define blank_width 8\n#define blank_height 1\n#define blank_x_hot 0\n#define blank_y_hot 0\nstatic unsigned char blank_bits[] = {\n   0x00 };\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Run(t, "xsetroot", "-cursor", xbm, xbm)
	img := filepath.Join(dir, "content.png")
	if out, err := exec.Command("convert", "-size", "300x200", "gradient:red-blue", "-fill", "white", "-font", "DejaVu-Sans", "-pointsize", "24",
		"-draw", "text 20,100 'OnePAM e2e'", img).CombinedOutput(); err != nil {
		t.Fatalf("convert: %v\n%s", err, out)
	}
	srv.Start(t, "display", "-geometry", "+100+60", img)
	// Park the pointer in a corner over the root window.
	cl, err := vnctest.Dial(srv.Addr, password)
	if err != nil {
		t.Fatal(err)
	}
	_ = cl.Pointer(630, 470, 0)
	_ = cl.SetEncodings(rfb.EncRaw)
	_ = cl.Request(false)
	if err := cl.ReadUpdate(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	truth := filepath.Join(dir, "truth.png")
	e2etest.WaitFor(t, 20*time.Second, "the image window on the screen", func() bool {
		srv.Run(t, "import", "-window", "root", truth)
		c := vnctest.ReadPNG(t, truth).RGBAAt(350, 200)
		return c.R > 30 && c.B > 30 && c.G < 60 // inside the red-to-blue gradient
	})
	return srv, truth
}

// differingPixels is ImageMagick's count of pixels differing between two
// images beyond fuzz (e.g. "20%" for a JPEG).
func differingPixels(t *testing.T, a, b, fuzz string) int {
	t.Helper()
	out, _ := exec.Command("compare", "-metric", "AE", "-fuzz", fuzz, a, b, "null:").CombinedOutput()
	n, err := strconv.ParseFloat(strings.Fields(string(out) + " x")[0], 64)
	if err != nil {
		t.Fatalf("compare %s %s: %s", a, b, out)
	}
	return int(n)
}

// vncsnapshot takes a picture through addr (RFB 3.3) into a JPEG.
func vncsnapshot(t *testing.T, addr string) string {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	out := filepath.Join(t.TempDir(), "snapshot.jpg")
	cmd := exec.Command("vncsnapshot", "-quiet", "-encodings", "hextile copyrect raw", "127.0.0.1::"+port, out)
	cmd.Stdin = strings.NewReader("") // a password prompt would fail, not hang
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vncsnapshot: %v\n%s", err, b)
	}
	return out
}

// TestVNCSessions runs issue 7's viewer acceptance through the real
// binaries: vncsnapshot through `onepam vnc connect` shows the server's
// screen, the recording renders the same frame as a PNG, and a VncAuth
// server is reached with the password only the agent has.
func TestVNCSessions(t *testing.T) {
	for _, p := range []string{"Xvnc", "vncsnapshot", "vncpasswd", "import", "compare", "convert", "display", "xsetroot"} {
		requirePeer(t, p)
	}
	open, openTruth := vncDesktop(t, "")
	pwFile := filepath.Join(t.TempDir(), "passwd")
	cmd := exec.Command("vncpasswd", "-f")
	cmd.Stdin = strings.NewReader(vncPassword + "\n" + vncPassword + "\n")
	pw, err := cmd.Output()
	if err != nil {
		t.Fatalf("vncpasswd: %v", err)
	}
	if err := os.WriteFile(pwFile, pw, 0o600); err != nil {
		t.Fatal(err)
	}
	locked, lockedTruth := vncDesktop(t, vncPassword, "-SecurityTypes", "VncAuth", "-PasswordFile", pwFile)
	w := newWorld(t, fmt.Sprintf(`  - name: desk
    url: vnc://%s
  - name: desklocked
    url: vnc://:%s@%s
`, open.Addr, vncPassword, locked.Addr))

	t.Run("vncsnapshot through vnc connect; the recording renders the same frame", func(t *testing.T) {
		tun := connectType(t, w.admin, "vnc", "desk")
		shot := vncsnapshot(t, tun.Addr)
		if n := differingPixels(t, shot, openTruth, "20%"); n > 640*480/100 {
			t.Fatalf("vncsnapshot through the gateway differs from the server's screenshot in %d pixels (JPEG, more than 1%%)", n)
		}
		stopConnect(t, tun)
		e2etest.WaitFor(t, 20*time.Second, "recording complete", func() bool {
			return session(t, w.admin, tun.ID).Recording.State == api.RecordingComplete
		})
		summary := w.admin.MustRun("sessions", "replay", tun.ID)
		if !strings.Contains(summary, "640×480") || !strings.Contains(summary, "sessions frames "+tun.ID) {
			t.Fatalf("replay summary:\n%s", summary)
		}
		var sum struct { // pkg/cli.DesktopSummary
			Width    int     `json:"width"`
			Frames   int     `json:"frames"`
			Duration float64 `json:"duration"`
			Complete bool    `json:"complete"`
		}
		if err := json.Unmarshal([]byte(w.admin.MustRun("sessions", "replay", tun.ID, "-o", "json")), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.Frames == 0 || sum.Width != 640 || !sum.Complete {
			t.Fatalf("summary %+v", sum)
		}
		dir := t.TempDir()
		at := time.Duration(sum.Duration * float64(time.Second)).String()
		frame := strings.TrimSpace(w.admin.MustRun("sessions", "frames", tun.ID, dir, "--at", at))
		if d := vnctest.Diff(vnctest.ReadPNG(t, frame), vnctest.ReadPNG(t, openTruth)); d != 0 {
			t.Fatalf("the frame rebuilt from the recording at %s differs from the server's screenshot in %d pixels", at, d)
		}
		snap := filepath.Join(dir, "snapshot.png")
		w.admin.MustRun("sessions", "snapshot", tun.ID, "--at", at, "-o", snap)
		if d := vnctest.Diff(vnctest.ReadPNG(t, snap), vnctest.ReadPNG(t, openTruth)); d != 0 {
			t.Fatalf("sessions snapshot --at %s differs from the server's screenshot in %d pixels", at, d)
		}
		frames := strings.Fields(w.admin.MustRun("sessions", "frames", tun.ID, dir, "--every", "100ms"))
		if len(frames) == 0 {
			t.Fatal("sessions frames --every wrote nothing")
		}
	})

	t.Run("VncAuth server with the password only the agent has", func(t *testing.T) {
		tun := connectType(t, w.admin, "vnc", "desklocked")
		defer tun.Signal(syscall.SIGINT)
		shot := vncsnapshot(t, tun.Addr)
		if n := differingPixels(t, shot, lockedTruth, "20%"); n > 640*480/100 {
			t.Fatalf("vncsnapshot through the gateway differs from the server's screenshot in %d pixels", n)
		}
		if cl, err := vnctest.Dial(locked.Addr, ""); err == nil {
			cl.Close()
			t.Fatal("the server let a viewer in without its password")
		}
	})

	t.Run("kill closes the viewer", func(t *testing.T) {
		tun := connectType(t, w.admin, "vnc", "desk")
		cl, err := vnctest.Dial(tun.Addr, "")
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		w.admin.MustRun("sessions", "kill", tun.ID, "--reason", "e2e")
		if code, err := tun.Wait(20 * time.Second); err != nil || code != 7 {
			t.Fatalf("vnc connect after kill: exit %d %v", code, err)
		}
		_ = cl.Conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		var b [4096]byte
		for {
			_, err := cl.Conn.Read(b[:])
			if err == nil {
				continue
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the viewer's connection stayed open after kill")
			}
			break
		}
	})
}
