package sessions

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

func TestEndedLog(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		add     func(e *endedLog)
		want    map[string]int64 // id → up; -1: gone
		wantLen int
	}{
		{"kept", func(e *endedLog) {
			e.add("a", endedCounts{up: 1, at: t0})
			e.add("b", endedCounts{up: 2, at: t0.Add(time.Second)})
		}, map[string]int64{"a": 1, "b": 2}, 2},
		{"older than endedKeep dropped", func(e *endedLog) {
			e.add("a", endedCounts{up: 1, at: t0})
			e.add("b", endedCounts{up: 2, at: t0.Add(endedKeep + time.Second)})
		}, map[string]int64{"a": -1, "b": 2}, 1},
		{"bounded by endedMax", func(e *endedLog) {
			for i := range endedMax + 3 {
				e.add(fmt.Sprint(i), endedCounts{up: int64(i), at: t0})
			}
		}, map[string]int64{"0": -1, "2": -1, "3": 3, fmt.Sprint(endedMax + 2): endedMax + 2}, endedMax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e endedLog
			tt.add(&e)
			for id, up := range tt.want {
				c, ok := e.get(id)
				if up < 0 && ok {
					t.Errorf("%s still kept: %+v", id, c)
				}
				if up >= 0 && (!ok || c.up != up) {
					t.Errorf("%s = %+v, %v; want up %d", id, c, ok, up)
				}
			}
			if len(e.byID) != tt.wantLen || len(e.order) != tt.wantLen {
				t.Errorf("%d entries, order %d; want %d", len(e.byID), len(e.order), tt.wantLen)
			}
		})
	}
}

// A row read before the session's final flush, overlaid after the
// session left the registry, shows the final byte counts (not the row's
// older ones).
func TestOverlayAfterEnd(t *testing.T) {
	e := newEnv(t, envOptions{})
	s, lead := e.activeEcho(bob)
	data, err := e.attach(bob, s.ID, api.ChannelData, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(data.conn, "hello")
	data.conn.(*net.TCPConn).CloseWrite()
	data.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, _ := io.ReadAll(data.r); string(b) != "hello" {
		t.Fatalf("echo %q", b)
	}
	<-data.done
	stale := s // as read before the final flush: no bytes yet
	lead.conn.Close()
	e.waitStatus(s.ID, api.StatusCompleted)
	waitFor(t, "registry empty", func() (int, bool) { return 0, e.m.Running() == 0 })
	e.m.Overlay(&stale)
	if stale.BytesUp != 5 || stale.BytesDown != 5 {
		t.Fatalf("overlaid stale row: up %d down %d, want 5 and 5", stale.BytesUp, stale.BytesDown)
	}
	// A row with the final counts is left as it is.
	final, err := e.store.GetSession(e.ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.m.Overlay(&final)
	if final.BytesUp != 5 || final.BytesDown != 5 {
		t.Fatalf("overlaid final row: up %d down %d", final.BytesUp, final.BytesDown)
	}
}
