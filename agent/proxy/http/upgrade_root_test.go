package httpproxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestWebSocketAtRoot: an upstream URL without a path (http://host:port)
// still gets "GET /ws", not "GET ws", on an upgrade.
func TestWebSocketAtRoot(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.url, "http")+"/base/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("at the root")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := ws.Read(ctx); err != nil || string(got) != "at the root" {
		t.Fatalf("echo: %q %v", got, err)
	}
}
