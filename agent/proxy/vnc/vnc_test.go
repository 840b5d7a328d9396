package vnc

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/deskrec"
	"github.com/onepam/onepam/agent/proxy/vnc/rfb"
	"github.com/onepam/onepam/agent/proxy/vnc/vnctest"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// desktop starts Xvnc with known content: a two-colour pattern on the
// root window and a window showing a many-coloured image (so every tile
// kind of Hextile and ZRLE occurs). It returns the server and its own
// screenshot.
func desktop(t *testing.T, extra ...string) (*vnctest.Server, *image.RGBA) {
	t.Helper()
	srv := vnctest.StartXvnc(t, extra...)
	srv.Run(t, "xsetroot", "-mod", "8", "8", "-fg", "#3366cc", "-bg", "#ffcc00")
	hideCursor(t, srv)
	vnctest.RequirePeer(t, "convert")
	img := filepath.Join(t.TempDir(), "content.png")
	if out, err := exec.Command("convert", "-size", "300x200", "gradient:red-blue", "-fill", "white", "-font", "DejaVu-Sans", "-pointsize", "24", "-draw", "text 20,100 'OnePAM VNC'", img).CombinedOutput(); err != nil {
		t.Fatalf("convert: %v\n%s", err, out)
	}
	srv.Start(t, "display", "-geometry", "+100+60", img)
	var truth *image.RGBA
	poll(t, "the image window to appear", func() bool {
		truth = srv.Screenshot(t)
		c := truth.RGBAAt(350, 200)
		return c.R > 30 && c.B > 30 && c.G < 60 // inside the red-to-blue gradient
	})
	return srv, truth
}

// hideCursor makes the root window's cursor invisible and moves the
// pointer over the root window: for viewers without the Cursor
// pseudo-encoding Xvnc draws the cursor into the framebuffer, which the
// server's own screenshot does not show.
func hideCursor(t *testing.T, srv *vnctest.Server) {
	t.Helper()
	xbm := filepath.Join(t.TempDir(), "blank.xbm")
	os.WriteFile(xbm, []byte("#define blank_width 8\n#define blank_height 1\n#define blank_x_hot 0\n#define blank_y_hot 0\nstatic unsigned char blank_bits[] = {\n   0x00 };\n"), 0o644)
	srv.Run(t, "xsetroot", "-cursor", xbm, xbm)
	cl, err := vnctest.Dial(srv.Addr, srv.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cl.Pointer(630, 470, 0)
	cl.SetEncodings(rfb.EncRaw)
	cl.Request(false)
	if err := cl.ReadUpdate(20 * time.Second); err != nil { // the pointer event has been processed
		t.Fatal(err)
	}
}

func TestEncodings(t *testing.T) {
	srv, truth := desktop(t)
	cases := []struct {
		name string
		encs []int32
	}{
		{"raw", []int32{rfb.EncRaw}},
		{"copyrect", []int32{rfb.EncCopyRect, rfb.EncRaw}},
		{"rre", []int32{rfb.EncRRE}},
		{"hextile", []int32{rfb.EncHextile, rfb.EncCursor, rfb.EncDesktopSize}},
		{"zlib", []int32{rfb.EncZlib}},
		{"zrle", []int32{rfb.EncZRLE, rfb.EncCursor, rfb.EncDesktopSize, rfb.EncLastRect, rfb.EncPointerPos}},
		{"zrle with tight offered", []int32{rfb.EncTight, rfb.EncZRLE, -313, -312}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := openSession(t, Config{}, srv.Addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := vnctest.Dial(h.Addr, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.SetEncodings(c.encs...); err != nil {
				t.Fatal(err)
			}
			// Two rounds: a full update, then a second full update through
			// the same zlib streams.
			for round := 0; round < 2; round++ {
				if err := cl.Request(false); err != nil {
					t.Fatal(err)
				}
				if err := cl.ReadUpdate(20 * time.Second); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				// A pseudo-encoding answer (ExtendedDesktopSize) may come
				// alone first: ask again until the screen is complete.
				for tries := 0; vnctest.Diff(cl.Frame(), truth) != 0; tries++ {
					if tries == 5 {
						t.Fatalf("round %d: %d pixels still differ after %d updates", round, vnctest.Diff(cl.Frame(), truth), tries)
					}
					if err := cl.Request(false); err != nil {
						t.Fatal(err)
					}
					if err := cl.ReadUpdate(20 * time.Second); err != nil {
						t.Fatalf("round %d: %v (%d pixels differ)", round, err, vnctest.Diff(cl.Frame(), truth))
					}
				}
			}
			cl.Close()
			if err := <-h.Errs; err != nil {
				t.Fatalf("ServeConn: %v", err)
			}
			p := h.Finish(t)
			if d := vnctest.Diff(lastFrame(t, p), truth); d != 0 {
				t.Fatalf("recorded frame differs from the server's screenshot in %d pixels", d)
			}
			if p.Header().Meta["session_id"] != "s-test" || p.Header().Meta["protocol"] != "vnc" {
				t.Fatalf("header meta %v", p.Header().Meta)
			}
		})
	}
}

// TestVNCSnapshot carries vncsnapshot, which speaks RFB 3.3.
func TestVNCSnapshot(t *testing.T) {
	vnctest.RequirePeer(t, "vncsnapshot")
	vnctest.RequirePeer(t, "compare")
	srv, truth := desktop(t)
	h, err := openSession(t, Config{}, srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(h.Addr)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jpg")
	cmd := exec.Command("vncsnapshot", "-quiet", "-encodings", "hextile copyrect raw", "127.0.0.1::"+port, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vncsnapshot: %v\n%s", err, b)
	}
	if err := <-h.Errs; err != nil {
		t.Fatalf("ServeConn: %v", err)
	}
	p := h.Finish(t)
	if d := vnctest.Diff(lastFrame(t, p), truth); d != 0 {
		os.MkdirAll("/tmp/vncdbg", 0o755)
		f, _ := os.Create("/tmp/vncdbg/rec.png")
		p.ExportPNG(p.Duration(), f)
		f.Close()
		f, _ = os.Create("/tmp/vncdbg/truth.png")
		png.Encode(f, truth)
		f.Close()
		t.Fatalf("recorded frame differs from the server's screenshot in %d pixels", d)
	}
	var connNote string
	for _, ev := range events(t, h.Rec.Bytes()) {
		if ev.Type == deskproto.EventMeta && ev.Key == "connection" && strings.Contains(ev.Text, "RFB 3.") {
			connNote = ev.Text
		}
	}
	if !strings.Contains(connNote, "RFB 3.3 viewer") {
		t.Fatalf("connection note %q, want an RFB 3.3 viewer", connNote)
	}
	// vncsnapshot's JPEG against the truth: lossy, so with a tolerance.
	truthPNG := filepath.Join(dir, "truth.png")
	f, _ := os.Create(truthPNG)
	if err := p.ExportPNG(p.Duration(), f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := exec.Command("compare", "-metric", "AE", "-fuzz", "20%", out, truthPNG, "null:").CombinedOutput()
	n, err := strconv.ParseFloat(strings.Fields(string(b) + " x")[0], 64)
	if err != nil {
		t.Fatalf("compare: %s", b)
	}
	if n > 640*480/100 {
		t.Fatalf("vncsnapshot's image differs from the recording in %v pixels (more than 1%%)", n)
	}
}

func TestX11vnc(t *testing.T) {
	srv := vnctest.StartX11vnc(t)
	srv.Run(t, "xsetroot", "-mod", "4", "4", "-fg", "#11aa55", "-bg", "#202020")
	hideCursor(t, srv)
	truth := srv.Screenshot(t)
	for _, enc := range []int32{rfb.EncZRLE, rfb.EncHextile} {
		t.Run(strconv.Itoa(int(enc)), func(t *testing.T) {
			h, err := openSession(t, Config{}, srv.Addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := vnctest.Dial(h.Addr, "")
			if err != nil {
				t.Fatal(err)
			}
			cl.SetEncodings(enc)
			for tries := 0; vnctest.Diff(cl.Frame(), truth) != 0; tries++ {
				if tries == 10 {
					t.Fatalf("%d pixels still differ after %d updates", vnctest.Diff(cl.Frame(), truth), tries)
				}
				cl.Request(false)
				if err := cl.ReadUpdate(20 * time.Second); err != nil {
					t.Fatal(err)
				}
			}
			cl.Close()
			<-h.Errs
			if d := vnctest.Diff(lastFrame(t, h.Finish(t)), truth); d != 0 {
				t.Fatalf("recorded frame differs from the server's screenshot in %d pixels", d)
			}
		})
	}
}

func TestVNCAuth(t *testing.T) {
	vnctest.RequirePeer(t, "vncpasswd")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "passwd")
	cmd := exec.Command("vncpasswd", "-f")
	cmd.Stdin = strings.NewReader("s3cret99\ns3cret99\n")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("vncpasswd: %v", err)
	}
	if err := os.WriteFile(pwFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	textFile := filepath.Join(dir, "pw.txt")
	os.WriteFile(textFile, []byte("s3cret99\n"), 0o600)
	srv := vnctest.StartXvnc(t, "-SecurityTypes", "VncAuth", "-PasswordFile", pwFile)
	srv.Password = "s3cret99"
	srv.Run(t, "xsetroot", "-solid", "#3366cc")
	hideCursor(t, srv)
	truth := srv.Screenshot(t)
	ok := []struct {
		name string
		tc   *TargetConfig
	}{
		{"password", &TargetConfig{Password: "s3cret99"}},
		{"text password_file", &TargetConfig{PasswordFile: textFile}},
		{"vncpasswd password_file", &TargetConfig{PasswordFile: pwFile}},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			h, err := openSession(t, Config{}, srv.Addr, c.tc)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := vnctest.Dial(h.Addr, "") // the person needs no password
			if err != nil {
				t.Fatal(err)
			}
			cl.SetEncodings(rfb.EncZRLE)
			cl.Request(false)
			if err := cl.ReadUpdate(20 * time.Second); err != nil {
				t.Fatal(err)
			}
			cl.Close()
			<-h.Errs
			if d := vnctest.Diff(lastFrame(t, h.Finish(t)), truth); d != 0 {
				t.Fatalf("recorded frame differs in %d pixels", d)
			}
		})
	}
	bad := []struct {
		name, want string
		tc         *TargetConfig
	}{
		{"wrong password", "authentication failure", &TargetConfig{Password: "wrong"}},
		{"no password", "requires a password", nil},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := openSession(t, Config{}, srv.Addr, c.tc)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), c.want) {
				t.Fatalf("Open: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestInputRecorded(t *testing.T) {
	srv := vnctest.StartXvnc(t)
	h, err := openSession(t, Config{}, srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := vnctest.Dial(h.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	cl.SetEncodings(rfb.EncRaw)
	steps := []func() error{
		func() error { return cl.Pointer(10, 20, 0) },
		func() error { return cl.Pointer(30, 40, 1) },
		func() error { return cl.Key(true, 0x61) },
		func() error { return cl.Key(false, 0x61) },
		func() error { return cl.ClientCutText("caf\xe9 clipboard") },
		func() error { return cl.Request(false) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.ReadUpdate(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	<-h.Errs
	h.Finish(t)
	var got []string
	for _, ev := range events(t, h.Rec.Bytes()) {
		switch ev.Type {
		case deskproto.EventPointer:
			got = append(got, "pointer "+strconv.Itoa(ev.X)+","+strconv.Itoa(ev.Y)+" "+strconv.Itoa(int(ev.Buttons)))
		case deskproto.EventKey:
			got = append(got, "key "+strconv.FormatUint(uint64(ev.Keysym), 16)+" "+strconv.FormatBool(ev.Down))
		case deskproto.EventClipboard:
			got = append(got, "clipboard "+ev.Text+" "+strconv.Itoa(ev.Size))
		}
	}
	want := []string{"pointer 10,20 0", "pointer 30,40 1", "key 61 true", "key 61 false", "clipboard café clipboard 14"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("input events\n got %q\nwant %q", got, want)
	}
}

// TestPixelFormat16 has the viewer switch to 16-bit pixels: the recording
// follows and matches what the viewer shows exactly.
func TestPixelFormat16(t *testing.T) {
	srv, _ := desktop(t)
	h, err := openSession(t, Config{}, srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := vnctest.Dial(h.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	pf := rfb.PixelFormat{BPP: 16, Depth: 16, BigEndian: true, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5, BlueShift: 0}
	cl.SetPixelFormat(pf)
	cl.SetEncodings(rfb.EncZRLE, rfb.EncHextile)
	cl.Request(false)
	if err := cl.ReadUpdate(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	shown := image.NewRGBA(cl.Frame().Bounds())
	copy(shown.Pix, cl.Frame().Pix)
	cl.Close()
	<-h.Errs
	if d := vnctest.Diff(lastFrame(t, h.Finish(t)), shown); d != 0 {
		t.Fatalf("recorded frame differs from the viewer's in %d pixels", d)
	}
}

// fakeServer is an RFB 3.8 server that completes the handshake and then
// sends garbage.
func fakeServer(t *testing.T, garbage []byte) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("RFB 003.008\n"))
				buf := make([]byte, 12)
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				c.Write([]byte{1, rfb.SecNone})
				if _, err := io.ReadFull(c, buf[:1]); err != nil {
					return
				}
				c.Write([]byte{0, 0, 0, 0})
				if _, err := io.ReadFull(c, buf[:1]); err != nil { // ClientInit
					return
				}
				c.Write(rfb.ServerInit{Width: 16, Height: 16, PixelFormat: rfb.PF32, Name: "fake"}.Bytes())
				c.Write(garbage)
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return l.Addr().String()
}

func TestMalformed(t *testing.T) {
	good := vnctest.StartXvnc(t)
	other, err := openSession(t, Config{}, good.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	otherCl, err := vnctest.Dial(other.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		garbage []byte // from the server
		viewer  []byte // from the viewer
		want    string
	}{
		{"server message type", []byte{0xee}, nil, "message type 238"},
		{"rectangle outside", []byte{0, 0, 0, 1, 0, 10, 0, 10, 0, 10, 0, 10, 0, 0, 0, 0}, nil, "outside"},
		{"unrequested encoding", []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 4, 0, 0, 0, 7}, nil, "encoding 7"},
		{"bad ZRLE data", []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 4, 0, 0, 0, 16, 0, 0, 0, 4, 1, 2, 3, 4}, nil, "zlib"},
		{"viewer message type", nil, []byte{99}, "message type 99"},
		{"viewer pixel format", nil, append([]byte{0, 0, 0, 0}, rfb.PixelFormat{BPP: 24}.Bytes()...), "bits per pixel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := openSession(t, Config{}, fakeServer(t, c.garbage), nil)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := vnctest.Dial(h.Addr, "")
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if c.viewer != nil {
				cl.Conn.Write(c.viewer)
			}
			serr := <-h.Errs
			if serr == nil || !strings.Contains(serr.Error(), c.want) {
				t.Fatalf("ServeConn: %v, want an error containing %q", serr, c.want)
			}
			// The viewer's connection is closed.
			cl.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, cl.Conn); err != nil {
				t.Fatalf("viewer connection not closed: %v", err)
			}
			var recorded string
			for _, ev := range events(t, h.Rec.Bytes()) {
				if ev.Type == deskproto.EventError {
					recorded = ev.Text
				}
			}
			if !strings.Contains(recorded, c.want) {
				t.Fatalf("recorded error %q", recorded)
			}
		})
	}
	// The other session still works.
	otherCl.SetEncodings(rfb.EncRaw)
	otherCl.Request(false)
	if err := otherCl.ReadUpdate(20 * time.Second); err != nil {
		t.Fatalf("the other session: %v", err)
	}
	otherCl.Close()
}

// TestSeekLive records a clock with a short keyframe interval, then checks
// that seeking through keyframes renders what a replay from the start
// does.
func TestSeekLive(t *testing.T) {
	srv := vnctest.StartXvnc(t)
	srv.Run(t, "xsetroot", "-solid", "#204060")
	srv.Start(t, "xclock", "-update", "1", "-geometry", "200x200+50+50")
	h, err := openSession(t, Config{Recording: deskrec.Recording{KeyframeInterval: 300 * time.Millisecond}}, srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := vnctest.Dial(h.Addr, "")
	if err != nil {
		t.Fatal(err)
	}
	cl.SetEncodings(rfb.EncZRLE, rfb.EncCopyRect)
	cl.Request(false)
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		if err := cl.ReadUpdate(20 * time.Second); err != nil {
			t.Fatal(err)
		}
		cl.Request(true)
	}
	cl.Close()
	<-h.Errs
	p := h.Finish(t)
	if len(p.Keyframes()) < 2 {
		t.Fatalf("%d keyframes in 3 s with a 300 ms interval", len(p.Keyframes()))
	}
	data := h.Rec.Bytes()
	for _, at := range []time.Duration{p.Duration() / 3, p.Duration() * 2 / 3, p.Duration()} {
		seek, err := p.Frame(at)
		if err != nil {
			t.Fatal(err)
		}
		if st := p.Stats(); st.Keyframes > 1 {
			t.Errorf("seek to %v decoded %d keyframes", at, st.Keyframes)
		}
		d, _ := deskproto.NewDecoder(bytes.NewReader(data))
		r := deskproto.NewRenderer(d.Header())
		for {
			ev, err := d.Next()
			if errors.Is(err, io.EOF) || err == nil && ev.T > at {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			r.Apply(&ev)
		}
		if n := vnctest.Diff(seek, r.Image()); n != 0 {
			t.Fatalf("seek to %v differs from replay in %d pixels", at, n)
		}
	}
}
