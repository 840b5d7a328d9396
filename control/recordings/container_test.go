package recordings

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// uploadSim plays the agent's uploader against a Dir and a Hub: closed
// pieces once, the open frame's snapshot re-sent at the same offset as it
// grows; every stored chunk is published.
type uploadSim struct {
	t      *testing.T
	d      *Dir
	h      *Hub
	closed bytes.Buffer
	sent   int // closed bytes stored
	volat  int // offset of the last snapshot stored, -1 none
}

func (u *uploadSim) send(off int, data []byte, final bool) {
	u.t.Helper()
	if _, err := u.d.WriteAt(context.Background(), sid, api.FormatAsciicast, int64(off), data, final); err != nil {
		u.t.Fatal(err)
	}
	u.h.Publish(sid, LiveChunk{Offset: int64(off), Data: append([]byte(nil), data...), Final: final})
}

func (u *uploadSim) tick(w *container.Writer, final bool) {
	u.t.Helper()
	_, snap, err := w.Snapshot(nil)
	if err != nil {
		u.t.Fatal(err)
	}
	from := u.sent
	if u.volat >= 0 {
		from = u.volat
	}
	if closed := u.closed.Bytes()[from:]; len(closed) > 0 || final {
		u.send(from, closed, final && len(snap) == 0)
	}
	u.sent, u.volat = u.closed.Len(), -1
	if len(snap) > 0 {
		u.send(u.closed.Len(), snap, false)
		u.volat = u.closed.Len()
	}
}

func TestInnerOfContainers(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	build := func(lines int, finish bool) ([]byte, []byte) {
		var b bytes.Buffer
		w, err := container.NewWriter(&b, container.Header{SessionID: sid, Format: api.FormatConnlog}, container.Config{FrameSize: 1024})
		if err != nil {
			t.Fatal(err)
		}
		var inner []byte
		for i := range lines {
			l := fmt.Sprintf(`{"t":%d,"event":"open","conn":%d}`+"\n", i, i+1)
			w.Write(time.Duration(i)*time.Second, []byte(l))
			inner = append(inner, l...)
		}
		if finish {
			w.Finish(priv)
		} else {
			w.Close()
		}
		return b.Bytes(), inner
	}
	signed, want := build(200, true)
	cut, wantCut := build(100, false)
	tests := []struct {
		name   string
		stored []byte
		want   []byte
		bad    bool
	}{
		{"signed container", signed, want, false},
		{"cut container", cut, wantCut, false},
		{"torn last frame", cut[:len(cut)-10], nil, false},
		{"legacy raw bytes", want, want, false},
		{"altered frame", func() []byte { b := bytes.Clone(signed); b[len(b)/2] ^= 1; return b }(), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(Inner(bytes.NewReader(tt.stored)))
			if tt.bad {
				if err == nil {
					t.Fatal("altered container decoded without error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil && !bytes.Equal(got, tt.want) {
				t.Fatalf("inner %d bytes, want %d", len(got), len(tt.want))
			}
			if tt.want == nil && !bytes.HasPrefix(wantCut, got) {
				t.Fatal("torn container: not a prefix of the inner stream")
			}
		})
	}
}

func TestFollowerContainerWithResentFrames(t *testing.T) {
	for _, buffer := range []int{1, 64} { // 1: the watcher falls behind and catches up from storage
		t.Run(fmt.Sprintf("buffer %d", buffer), func(t *testing.T) {
			d, err := NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			u := &uploadSim{t: t, d: d, h: NewHub(buffer), volat: -1}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			fo, err := u.h.Follow(ctx, FollowConfig{Store: d, SessionID: sid, Format: api.FormatAsciicast})
			if err != nil {
				t.Fatal(err)
			}
			defer fo.Close()
			type result struct {
				b   []byte
				err error
			}
			got := make(chan result, 1)
			go func() { b, err := io.ReadAll(Inner(fo)); got <- result{b, err} }()

			w, err := container.NewWriter(&u.closed, container.Header{SessionID: sid, Format: api.FormatAsciicast}, container.Config{FrameSize: 2048})
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for i := range 400 {
				l := strings.Repeat(fmt.Sprint(i%10), 1+i%30) + "\n"
				w.Write(time.Duration(i)*time.Millisecond, []byte(l))
				want = append(want, l...)
				if i%7 == 0 {
					u.tick(w, false)
				}
			}
			_, priv, _ := ed25519.GenerateKey(nil)
			w.Finish(priv)
			u.tick(w, true)
			r := <-got
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !bytes.Equal(r.b, want) {
				t.Fatalf("watcher got %d bytes, want %d", len(r.b), len(want))
			}
		})
	}
}
