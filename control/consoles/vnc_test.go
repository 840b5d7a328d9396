package consoles_test

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/agent/proxy/vnc/vnctest"
	"github.com/onepam/onepam/pkg/api"
)

// TestVNCViewer speaks RFB through the VNC WebSocket to a real Xvnc whose
// root window was painted with xsetroot: the framebuffer shows the colour,
// and the session is recorded (deskproto) and completes on close.
func TestVNCViewer(t *testing.T) {
	requirePeer(t, hasProgram("Xvnc") && hasProgram("xsetroot"), "Xvnc and xsetroot are needed (Debian tigervnc-standalone-server, x11-xserver-utils)")
	x := vnctest.StartXvnc(t)
	x.Run(t, "xsetroot", "-solid", "#3366cc")
	r, err := agent.ParseResourceURL("desktop", "vnc://"+x.Addr)
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, r)
	s := e.session(t, api.CreateSessionRequest{Resource: "desktop"})
	ws, err := e.dial(t, "/v1/sessions/"+s.ID+"/vnc")
	if err != nil {
		t.Fatal(err)
	}
	conn := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	c, err := vnctest.NewClient(conn, "")
	if err != nil {
		t.Fatalf("RFB handshake through the WebSocket: %v", err)
	}
	if c.Init.Width != 640 || c.Init.Height != 480 {
		t.Fatalf("desktop %dx%d, want 640x480", c.Init.Width, c.Init.Height)
	}
	if err := c.Request(false); err != nil {
		t.Fatal(err)
	}
	if err := c.ReadUpdate(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := c.Frame().RGBAAt(320, 240); got.R != 0x33 || got.G != 0x66 || got.B != 0xcc {
		t.Fatalf("pixel (320,240) = %v, want #3366cc", got)
	}
	c.Close()
	s = e.waitEnded(t, s.ID, api.StatusCompleted)
	if s.Recording.Format != api.FormatDeskproto || s.Recording.Size == 0 || s.BytesDown < 640*480 {
		t.Fatalf("session after the viewer closed: %+v", s)
	}
}
