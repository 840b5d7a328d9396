package recordings

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

func TestIndexer(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	if err := st.CreateSession(ctx, api.Session{ID: sid, User: "alice", Type: api.TypeSSH, Status: api.StatusPending,
		Resource: "web-1", CreatedAt: now, Recording: api.Recording{Format: api.FormatAsciicast}}); err != nil {
		t.Fatal(err)
	}
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var rec bytes.Buffer
	r, err := asciicast.NewRecorder(&rec, asciicast.Header{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	r.Output(100*time.Millisecond, []byte("$ "))
	r.Input(1500*time.Millisecond, []byte("echo zebra\r"))
	r.Output(1600*time.Millisecond, []byte("echo zebra\r\nzebra\r\n"))
	r.Output(4*time.Second, []byte("\x1b[31mgiraffe\x1b[0m spotted\r\n"))
	// Latin-1 text with one byte that is not UTF-8 is indexed; binary
	// output (mostly bytes that are not UTF-8) is not.
	r.Output(5*time.Second, []byte("caf\xe9 quokka on the menu today\r\n"))
	r.Output(6*time.Second, []byte("\xff\xfe\xfd\xfc wombat \xfb\xfa\xf9\x8a\r\n"))
	r.Close()
	// A truncated tail: the text before it is still indexed.
	stored := append(rec.Bytes(), 'o', 0x05, 0x40)
	if _, err := d.WriteAt(ctx, sid, api.FormatAsciicast, 0, stored, true); err != nil {
		t.Fatal(err)
	}
	ix, err := NewIndexer(IndexerConfig{Recordings: d, Index: st})
	if err != nil {
		t.Fatal(err)
	}
	ix.Start(sid, api.FormatAsciicast)
	ix.Start(sid, api.FormatAsciicast) // a resent final chunk: indexed once
	ix.Start(sid, api.FormatConnlog)   // no text: ignored
	ix.Wait()

	tests := []struct {
		name  string
		q     store.SearchQuery
		at    time.Duration
		line  string
		count int
	}{
		{"printed word", store.SearchQuery{Text: "giraffe"}, 4 * time.Second, "giraffe spotted", 1},
		{"typed word", store.SearchQuery{Text: "echo zebra", Input: true}, 1500 * time.Millisecond, "echo zebra", 1},
		{"output of the typed command", store.SearchQuery{Text: "zebra"}, 100 * time.Millisecond, "$ echo zebra", 2},
		{"text with a byte that is not UTF-8", store.SearchQuery{Text: "quokka"}, 5 * time.Second, "caf\uFFFD quokka on the menu today", 1},
		{"binary output is not indexed", store.SearchQuery{Text: "wombat"}, 0, "", 0},
		{"other user sees nothing", store.SearchQuery{Text: "giraffe", Users: []string{"bob"}}, 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits, err := st.SearchRecordings(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) != tt.count {
				t.Fatalf("%d hits, want %d: %+v", len(hits), tt.count, hits)
			}
			if tt.count == 0 {
				return
			}
			if hits[0].SessionID != sid || hits[0].At != tt.at || hits[0].Line != tt.line {
				t.Fatalf("hit %+v, want at %s line %q", hits[0], tt.at, tt.line)
			}
		})
	}
	if n, err := ix.Index(ctx, sid, api.FormatAsciicast); n != 0 || err != nil {
		t.Fatalf("second Index: %d lines, %v", n, err)
	}
}
