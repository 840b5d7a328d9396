package recordings

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// TestVerifyAndFinalState: a recording cut short (no trailer) is stored
// partial and verify says it was cut and where; whether a cut recording
// counts as intact depends on how the session ended; a finished one is
// complete and ok; an altered byte is tampered, naming the frame.
func TestVerifyAndFinalState(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	build := func(finish bool) []byte {
		var buf bytes.Buffer
		w, err := container.NewWriter(&buf, container.Header{SessionID: sid, Format: api.FormatConnlog}, container.Config{FrameSize: 1024})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			w.Write(time.Duration(i)*time.Second, bytes.Repeat([]byte{'a' + byte(i)}, 1024))
		}
		if finish {
			err = w.Finish(key)
		} else {
			err = w.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	finished, cut := build(true), build(false)
	tampered := append([]byte(nil), finished...)
	rd, err := container.Open(bytes.NewReader(finished), int64(len(finished)))
	if err != nil {
		t.Fatal(err)
	}
	f3 := rd.Frames()[3]
	tampered[f3.Offset+container.FrameHeaderSize+2] ^= 0x40

	tests := []struct {
		name       string
		data       []byte
		status     api.SessionStatus
		wantState  api.RecordingState
		wantStatus string
		intact     bool
		message    string
	}{
		{"finished", finished, api.StatusCompleted, api.RecordingComplete, "ok", true, "ok: 10 frames"},
		{"cut, session failed (agent lost)", cut, api.StatusFailed, api.RecordingPartial, "cut", true, "cut at frame 9"},
		{"cut, session ended normally", cut, api.StatusCompleted, api.RecordingPartial, "cut", false, "its end was removed"},
		{"cut, session still running", cut, api.StatusActive, api.RecordingPartial, "recording", true, "recording in progress"},
		{"a byte altered", tampered, api.StatusCompleted, api.RecordingComplete, "tampered", false, "frame 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d, err := NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.WriteAt(ctx, sid, api.FormatConnlog, 0, tt.data, true); err != nil {
				t.Fatal(err)
			}
			state, err := FinalState(ctx, d, sid, api.FormatConnlog)
			if err != nil || state != tt.wantState {
				t.Fatalf("FinalState = %q, %v; want %q", state, err, tt.wantState)
			}
			rc, err := d.Open(ctx, sid, api.FormatConnlog)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			blob, err := AsBlob(rc)
			if err != nil {
				t.Fatal(err)
			}
			s := api.Session{ID: sid, Agent: "agent-1", Status: tt.status, Error: "agent lost"}
			v, err := VerifySession(blob, s, [][]byte{pub})
			if err != nil {
				t.Fatal(err)
			}
			if v.Status != tt.wantStatus || v.Intact != tt.intact || !strings.Contains(v.Message, tt.message) {
				t.Fatalf("verify: status %q intact %v %q; want %q intact %v containing %q", v.Status, v.Intact, v.Message, tt.wantStatus, tt.intact, tt.message)
			}
		})
	}
}
