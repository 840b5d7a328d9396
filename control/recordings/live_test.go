package recordings

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// feeder stores chunks in a Dir and publishes them, as the agent gateway does.
type feeder struct {
	t    *testing.T
	d    *Dir
	h    *Hub
	size int64
	all  bytes.Buffer
}

func (f *feeder) chunk(data string, final bool) {
	f.t.Helper()
	size, err := f.d.WriteAt(context.Background(), sid, api.FormatAsciicast, f.size, []byte(data), final)
	if err != nil {
		f.t.Fatal(err)
	}
	f.h.Publish(sid, LiveChunk{Offset: f.size, Data: []byte(data), Final: final})
	f.size = size
	f.all.WriteString(data)
}

func newFeeder(t *testing.T, buffer int) *feeder {
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &feeder{t: t, d: d, h: NewHub(buffer)}
}

func readAllTimeout(t *testing.T, r io.Reader) []byte {
	t.Helper()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := io.ReadAll(r)
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("read: %v", r.err)
		}
		return r.b
	case <-time.After(20 * time.Second):
		t.Fatal("the follower did not end")
		return nil
	}
}

func TestFollower(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, f *feeder) (got []byte, want string)
	}{
		{"stored then live then final", func(t *testing.T, f *feeder) ([]byte, string) {
			f.chunk("hello ", false)
			fo, err := f.h.Follow(ctx, FollowConfig{Store: f.d, SessionID: sid, Format: api.FormatAsciicast})
			if err != nil {
				t.Fatal(err)
			}
			defer fo.Close()
			first := make([]byte, 6)
			if _, err := io.ReadFull(fo, first); err != nil || string(first) != "hello " {
				t.Fatalf("stored part %q %v", first, err)
			}
			f.chunk("live ", false)
			f.chunk("world", true)
			return append(first, readAllTimeout(t, fo)...), f.all.String()
		}},
		{"chunks published before the stored part was read are not repeated", func(t *testing.T, f *feeder) ([]byte, string) {
			f.chunk("abc", false)
			fo, _ := f.h.Follow(ctx, FollowConfig{Store: f.d, SessionID: sid, Format: api.FormatAsciicast})
			defer fo.Close()
			f.chunk("def", false) // in storage and in the channel
			f.chunk("ghi", true)
			return readAllTimeout(t, fo), f.all.String()
		}},
		{"a watcher that falls behind catches up from storage", func(t *testing.T, f *feeder) ([]byte, string) {
			fo, _ := f.h.Follow(ctx, FollowConfig{Store: f.d, SessionID: sid, Format: api.FormatAsciicast})
			defer fo.Close()
			for i := 0; i < 50; i++ {
				f.chunk(fmt.Sprintf("chunk %02d|", i), i == 49)
			}
			return readAllTimeout(t, fo), f.all.String()
		}},
		{"complete recording ends at its stored end", func(t *testing.T, f *feeder) ([]byte, string) {
			f.chunk("all of it", true)
			fo, _ := f.h.Follow(ctx, FollowConfig{Store: f.d, SessionID: sid, Format: api.FormatAsciicast, Complete: true})
			defer fo.Close()
			return readAllTimeout(t, fo), f.all.String()
		}},
		{"from an offset", func(t *testing.T, f *feeder) ([]byte, string) {
			f.chunk("0123456789", false)
			fo, _ := f.h.Follow(ctx, FollowConfig{Store: f.d, SessionID: sid, Format: api.FormatAsciicast, From: 4})
			defer fo.Close()
			f.chunk("abc", true)
			return readAllTimeout(t, fo), "456789abc"
		}},
		{"session ended without a final chunk", func(t *testing.T, f *feeder) ([]byte, string) {
			f.chunk("cut ", false)
			fo, _ := f.h.Follow(ctx, FollowConfig{Store: f.d, SessionID: sid, Format: api.FormatAsciicast, EndGrace: 10 * time.Millisecond})
			defer fo.Close()
			f.chunk("short", false)
			fo.SessionEnded()
			return readAllTimeout(t, fo), f.all.String()
		}},
		{"nothing stored yet", func(t *testing.T, f *feeder) ([]byte, string) {
			fo, _ := f.h.Follow(ctx, FollowConfig{Store: f.d, SessionID: sid, Format: api.FormatAsciicast})
			defer fo.Close()
			f.chunk("first", false)
			f.chunk("", true)
			return readAllTimeout(t, fo), f.all.String()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeeder(t, 2)
			got, want := tt.run(t, f)
			if string(got) != want {
				t.Fatalf("read %q, want %q", got, want)
			}
			if n := f.h.Watchers(sid); n != 0 {
				t.Fatalf("%d subscriptions left after Close", n)
			}
		})
	}
}

func TestFollowerContext(t *testing.T) {
	f := newFeeder(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	fo, err := f.h.Follow(ctx, FollowConfig{Store: f.d, SessionID: sid, Format: api.FormatAsciicast})
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	f.chunk("x", false)
	b := make([]byte, 1)
	if _, err := io.ReadFull(fo, b); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := fo.Read(b); err != context.Canceled {
		t.Fatalf("read after cancel: %v", err)
	}
}

func TestFollowConfigRejects(t *testing.T) {
	d, _ := NewDir(t.TempDir())
	h := NewHub(0)
	for name, cfg := range map[string]FollowConfig{
		"no store":    {SessionID: sid, Format: api.FormatAsciicast},
		"bad id":      {Store: d, SessionID: "../x", Format: api.FormatAsciicast},
		"bad format":  {Store: d, SessionID: sid, Format: "x"},
		"negative at": {Store: d, SessionID: sid, Format: api.FormatAsciicast, From: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := h.Follow(context.Background(), cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestFollowerContainer follows a container uploaded the way the agent's
// spool does: closed pieces once, the open frame's snapshot re-sent at the
// same offset as it grows. The followed stream, decoded by Inner, is the
// recording's raw bytes, whether the watcher keeps up or falls behind.
func TestFollowerContainer(t *testing.T) {
	for _, buffer := range []int{64, 1} {
		t.Run(fmt.Sprintf("buffer %d", buffer), func(t *testing.T) {
			f := newFeeder(t, buffer)
			var closed bytes.Buffer
			w, err := container.NewWriter(&closed, container.Header{SessionID: sid, Format: api.FormatAsciicast}, container.Config{FrameSize: 4096})
			if err != nil {
				t.Fatal(err)
			}
			var sent int64 // end of the closed pieces sent
			upload := func(final bool) {
				if n := int64(closed.Len()); n > sent {
					f.store(sent, closed.Bytes()[sent:n], false)
					sent = n
				}
				off, snap, err := w.Snapshot(nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(snap) > 0 {
					f.store(off, snap, false)
				}
				if final {
					f.store(sent, nil, true)
				}
			}
			var raw bytes.Buffer
			write := func(i int) {
				line := fmt.Sprintf("line %04d of a growing terminal recording\n", i)
				raw.WriteString(line)
				if _, err := w.Write(time.Duration(i)*time.Millisecond, []byte(line)); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 50; i++ {
				write(i)
				upload(false)
			}
			fo, err := f.h.Follow(context.Background(), FollowConfig{Store: f.d, SessionID: sid, Format: api.FormatAsciicast})
			if err != nil {
				t.Fatal(err)
			}
			defer fo.Close()
			done := make(chan []byte, 1)
			go func() {
				b, err := io.ReadAll(Inner(fo))
				if err != nil {
					t.Errorf("read: %v", err)
				}
				done <- b
			}()
			for i := 50; i < 400; i++ {
				write(i)
				upload(false)
			}
			_, key, _ := ed25519.GenerateKey(nil)
			if err := w.Finish(key); err != nil {
				t.Fatal(err)
			}
			upload(true)
			select {
			case got := <-done:
				if !bytes.Equal(got, raw.Bytes()) {
					t.Fatalf("followed %d bytes, want %d:\n%q", len(got), raw.Len(), got[:min(len(got), 200)])
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the follower did not end")
			}
		})
	}
}

// store writes a chunk at off (replacing what follows) and publishes it.
func (f *feeder) store(off int64, data []byte, final bool) {
	f.t.Helper()
	size, err := f.d.WriteAt(context.Background(), sid, api.FormatAsciicast, off, data, final)
	if err != nil {
		f.t.Fatal(err)
	}
	f.h.Publish(sid, LiveChunk{Offset: off, Data: append([]byte(nil), data...), Final: final})
	f.size = size
}
