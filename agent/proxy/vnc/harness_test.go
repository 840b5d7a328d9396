package vnc

import (
	"image"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// harness is one open session behind a listener that hands every
// viewer connection to ServeConn the way the agent does.
type harness struct{ *proxytest.Desk }

func openSession(t testing.TB, cfg Config, addr string, tc *TargetConfig) (*harness, error) {
	t.Helper()
	d, err := proxytest.OpenDesk(t, New(cfg),
		api.SessionOpen{SessionID: "s-test", Type: api.TypeVNC, Resource: "desk", User: "alice"},
		proxy.Target{Name: "desk", Address: addr, Options: tc})
	if err != nil {
		return nil, err
	}
	return &harness{d}, nil
}

// events decodes every event of a recording.
func events(t testing.TB, data []byte) []deskproto.Event {
	t.Helper()
	return proxytest.DeskEvents(t, data, false)
}

// lastFrame renders the end of a recording.
func lastFrame(t testing.TB, p *deskproto.Player) *image.RGBA {
	t.Helper()
	return proxytest.LastFrame(t, p)
}

// poll waits for cond, failing after 20 s.
func poll(t testing.TB, what string, cond func() bool) {
	t.Helper()
	proxytest.Poll(t, what, 20*time.Second, cond)
}
