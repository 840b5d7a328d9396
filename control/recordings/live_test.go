package recordings

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
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
