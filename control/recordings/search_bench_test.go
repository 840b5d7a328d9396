package recordings

import (
	"bytes"
	"context"
	"encoding/base64"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// BenchmarkIndexText: the search indexer on 8 MiB of terminal output made
// of distinct 76-character text lines (base64 of random bytes, the worst
// case for the full-text index). The SQLite FTS5 inserts are the cost
// (larger batches per transaction gave nothing: 10k and 50k lines were
// slower than 1k).
func BenchmarkIndexText(b *testing.B) {
	var rec bytes.Buffer
	r, err := asciicast.NewRecorder(&rec, asciicast.Header{Width: 80, Height: 24})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	raw := make([]byte, 57)
	var out int64
	for i := 0; out < 8<<20; i++ {
		var chunk bytes.Buffer
		for range 400 {
			for j := range raw {
				raw[j] = byte(rng.Uint32())
			}
			chunk.WriteString(base64.StdEncoding.EncodeToString(raw))
			chunk.WriteString("\r\n")
		}
		r.Output(time.Duration(i)*time.Millisecond, chunk.Bytes())
		out += int64(chunk.Len())
	}
	r.Close()
	ctx := context.Background()
	b.SetBytes(out)
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		st, err := sqlite.Open(ctx, filepath.Join(dir, "onepam.db"))
		if err != nil {
			b.Fatal(err)
		}
		if err := st.CreateSession(ctx, api.Session{ID: sid, User: "alice", Type: api.TypeSSH, Status: api.StatusPending,
			Resource: "web-1", CreatedAt: time.Now().UTC(), Recording: api.Recording{Format: api.FormatAsciicast}}); err != nil {
			b.Fatal(err)
		}
		d, err := NewDir(filepath.Join(dir, "recordings"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.WriteAt(ctx, sid, api.FormatAsciicast, 0, rec.Bytes(), true); err != nil {
			b.Fatal(err)
		}
		ix, err := NewIndexer(IndexerConfig{Recordings: d, Index: st})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := ix.Index(ctx, sid, api.FormatAsciicast); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
}
