package recordings

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/postgres"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// lockedIndex is a store with text indexing and the catch-up lock.
type lockedIndex interface {
	store.Store
	TextIndex
	CatchUpLocker
}

// finalRecording creates in st a session whose final terminal recording
// has the lines of tag (recLines lines), stored in d; with stored false
// the recording's data is gone (expired, deleted) but the session still
// says it is final.
func finalRecording(t *testing.T, st store.Store, d *Dir, tag string, at time.Time, stored bool) string {
	t.Helper()
	ctx := context.Background()
	id := store.IDAt(at)
	if err := st.CreateSession(ctx, api.Session{ID: id, User: "alice", Type: api.TypeSSH, Status: api.StatusPending,
		Resource: "web-1", CreatedAt: at, Recording: api.Recording{Format: api.FormatAsciicast}}); err != nil {
		t.Fatal(err)
	}
	var rec bytes.Buffer
	r, err := asciicast.NewRecorder(&rec, asciicast.Header{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range tagLines(tag) {
		r.Output(l.At, []byte(l.Text+"\r\n"))
	}
	r.Close()
	if stored {
		if _, err := d.WriteAt(ctx, id, api.FormatAsciicast, 0, rec.Bytes(), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetRecording(ctx, id, api.Recording{Format: api.FormatAsciicast, State: api.RecordingComplete,
		Size: int64(rec.Len()), Available: stored}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestCatchUpOneNodeAtATime: two control nodes start on one database
// (two stores of one PostgreSQL database; on SQLite, one store: one
// process uses the file) and both run the catch-up. While the first is
// in the middle of it (held in Open), the second skips it and opens
// nothing; once the first is done, a catch-up finds nothing left.
func TestCatchUpOneNodeAtATime(t *testing.T) {
	cases := []struct {
		name string
		open func(t *testing.T) (a, b lockedIndex)
	}{
		{"sqlite", func(t *testing.T) (lockedIndex, lockedIndex) {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "onepam.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st, st
		}},
		{"postgres", func(t *testing.T) (lockedIndex, lockedIndex) {
			url := pgtest.NewDatabase(t)
			var ss [2]*postgres.Store
			for i := range ss {
				st, err := postgres.Open(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				ss[i] = st
			}
			return ss[0], ss[1]
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			a, b := tc.open(t)
			d, err := NewDir(filepath.Join(t.TempDir(), "recordings"))
			if err != nil {
				t.Fatal(err)
			}
			id := finalRecording(t, a, d, "rec", time.Now(), true)

			indexer := func(st lockedIndex, o Opener, logs io.Writer) *Indexer {
				ix, err := NewIndexer(IndexerConfig{Recordings: o, Index: st, CatchUpLock: st, Batch: testBatch,
					Logger: slog.New(slog.NewJSONHandler(logs, nil))})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(ix.Close)
				return ix
			}
			oa := newOpener(d)
			oa.hold, oa.held = make(chan struct{}), make(chan string, 1)
			var logsA, logsB logBuffer
			first := indexer(a, oa, &logsA)
			type result struct {
				res CatchUpResult
				err error
			}
			firstDone := make(chan result, 1)
			go func() {
				res, err := first.CatchUp(ctx)
				firstDone <- result{res, err}
			}()
			if got := <-oa.held; got != id {
				t.Fatalf("first node opened %s, want %s", got, id)
			}

			ob := newOpener(d)
			second := indexer(b, ob, &logsB)
			res, err := second.CatchUp(ctx)
			if err != nil || res != (CatchUpResult{Skipped: true}) || ob.count(id) != 0 {
				t.Fatalf("second node while the first catches up: %+v, %v, %d opens; want skipped, no open\n%s", res, err, ob.count(id), logsB.String())
			}
			if !logsB.has("INFO", "search index catch-up skipped: another control node is catching up", "") {
				t.Errorf("no log line of the skipped catch-up in\n%s", logsB.String())
			}

			close(oa.hold)
			if r := <-firstDone; r.err != nil || r.res != (CatchUpResult{Indexed: 1}) {
				t.Fatalf("first node's catch-up: %+v, %v", r.res, r.err)
			}
			res, err = second.CatchUp(ctx)
			if err != nil || res != (CatchUpResult{}) || ob.count(id) != 0 {
				t.Fatalf("second node after the first: %+v, %v, %d opens; want nothing to do", res, err, ob.count(id))
			}
			hits, err := b.SearchRecordings(ctx, store.SearchQuery{Text: "of rec", Limit: 100})
			if err != nil || len(hits) != recLines {
				t.Fatalf("search after the catch-up: %d hits, %v; want %d", len(hits), err, recLines)
			}
		})
	}
}
