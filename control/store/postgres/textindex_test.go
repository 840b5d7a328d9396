package postgres_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/postgres"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/control/store/storetest"
)

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestTextIndexAttempts(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(ctx, url)
	mustT(t, err)
	defer s.Close()
	// Another recording, indexed, whose lines must stay as they are.
	other := storetest.TextSession(ctx, t, s, time.Now().Add(-time.Hour))
	mustT(t, s.IndexRecordingText(ctx, other, storetest.TextLines("other", 0, 3)))

	tests := []struct {
		name string
		// run does the attempts of a control (or of several, one after
		// the other) on recording id, whose lines are all.
		run          func(t *testing.T, id string, all []store.TextLine)
		wantLines    bool // all searchable afterwards, each once (else none)
		wantListed   bool // by UnindexedRecordings (MaxAttempts 3)
		wantAttempts int
	}{
		{"finished in batches", func(t *testing.T, id string, all []store.TextLine) {
			ti, ok, err := s.BeginRecordingText(ctx, id)
			if !ok || err != nil {
				t.Fatalf("begin: %v %v", ok, err)
			}
			mustT(t, s.AddRecordingText(ctx, &ti, all[:4]))
			mustT(t, s.AddRecordingText(ctx, &ti, all[4:8]))
			mustT(t, s.FinishRecordingText(ctx, &ti, all[8:]))
			if ti.Lines != int64(len(all)) {
				t.Fatalf("%d lines counted, want %d", ti.Lines, len(all))
			}
		}, true, false, 1},
		{"unfinished: nothing searchable, listed", func(t *testing.T, id string, all []store.TextLine) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.AddRecordingText(ctx, &ti, all[:5]))
		}, false, true, 1},
		{"unfinished, then indexed again", func(t *testing.T, id string, all []store.TextLine) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.AddRecordingText(ctx, &ti, all[:5]))
			ti, ok, err := s.BeginRecordingText(ctx, id)
			if !ok || err != nil || ti.Attempt != 2 || ti.Lines != 0 {
				t.Fatalf("second begin: %+v %v %v", ti, ok, err)
			}
			mustT(t, s.AddRecordingText(ctx, &ti, all[:5]))
			mustT(t, s.FinishRecordingText(ctx, &ti, all[5:]))
		}, true, false, 2},
		{"indexed: not begun again", func(t *testing.T, id string, all []store.TextLine) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.FinishRecordingText(ctx, &ti, all))
			if _, ok, err := s.BeginRecordingText(ctx, id); ok || err != nil {
				t.Fatalf("begin of an indexed recording: %v %v", ok, err)
			}
			mustT(t, s.FailRecordingText(ctx, id, store.TextFailed, "late")) // leaves it indexed
		}, true, false, 1},
		{"superseded attempt writes nothing", func(t *testing.T, id string, all []store.TextLine) {
			old, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			cur, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			if err := s.AddRecordingText(ctx, &old, all[:5]); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("add of a superseded attempt: %v", err)
			}
			if err := s.FinishRecordingText(ctx, &old, all[:5]); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("finish of a superseded attempt: %v", err)
			}
			mustT(t, s.FinishRecordingText(ctx, &cur, all))
		}, true, false, 2},
		{"failed: listed, lines gone", func(t *testing.T, id string, all []store.TextLine) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.AddRecordingText(ctx, &ti, all[:5]))
			mustT(t, s.FailRecordingText(ctx, id, store.TextFailed, "read error"))
		}, false, true, 1},
		{"failed 3 times: not listed", func(t *testing.T, id string, all []store.TextLine) {
			for range 3 {
				_, _, err := s.BeginRecordingText(ctx, id)
				mustT(t, err)
				mustT(t, s.FailRecordingText(ctx, id, store.TextFailed, "read error"))
			}
		}, false, false, 3},
		{"interrupted 3 times: listed, attempts not counted", func(t *testing.T, id string, all []store.TextLine) {
			for range 3 {
				_, _, err := s.BeginRecordingText(ctx, id)
				mustT(t, err)
				mustT(t, s.FailRecordingText(ctx, id, store.TextInterrupted, "shutdown"))
			}
		}, false, true, 0},
		{"missing: not listed", func(t *testing.T, id string, all []store.TextLine) {
			_, _, err := s.BeginRecordingText(ctx, id)
			mustT(t, err)
			mustT(t, s.FailRecordingText(ctx, id, store.TextMissing, "recording not found"))
		}, false, false, 1},
		{"IndexRecordingText replaces", func(t *testing.T, id string, all []store.TextLine) {
			mustT(t, s.IndexRecordingText(ctx, id, storetest.TextLines("stale", 100, 3)))
			mustT(t, s.IndexRecordingText(ctx, id, all))
			storetest.WantEachOnce(ctx, t, s, "stale", nil)
		}, true, false, 2},
		{"nodes beginning at once: one attempt each, in turn", func(t *testing.T, id string, all []store.TextLine) {
			var wg sync.WaitGroup
			tis := make([]store.TextIndexing, 4)
			for i := range tis {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					tis[i], _, err = s.BeginRecordingText(ctx, id)
					if err != nil {
						t.Errorf("begin %d: %v", i, err)
					}
				}()
			}
			wg.Wait()
			last := slices.IndexFunc(tis, func(ti store.TextIndexing) bool { return ti.Attempt == len(tis) })
			if last < 0 {
				t.Fatalf("attempts %+v, want 1..%d", tis, len(tis))
			}
			mustT(t, s.FinishRecordingText(ctx, &tis[last], all))
		}, true, false, 4},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tag := fmt.Sprintf("rec%d", i)
			all := storetest.TextLines(tag, 0, 10)
			id := storetest.TextSession(ctx, t, s, time.Now())
			tc.run(t, id, all)
			var want []store.TextLine
			if tc.wantLines {
				want = all
			}
			storetest.WantEachOnce(ctx, t, s, tag, want)
			storetest.WantEachOnce(ctx, t, s, "other", storetest.TextLines("other", 0, 3))
			if got := slices.Contains(storetest.UnindexedIDs(ctx, t, s), id); got != tc.wantListed {
				t.Errorf("listed as unindexed: %v, want %v", got, tc.wantListed)
			}
			if n := rawCount(t, url, `SELECT attempts FROM recording_text_state WHERE session_id = '`+id+`'`); n != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", n, tc.wantAttempts)
			}
			// Whatever happened, failed attempts left no line.
			if n := rawCount(t, url, `SELECT COUNT(*) FROM recording_text r JOIN recording_text_state x ON x.num = r.num
				WHERE x.state IN ('failed', 'missing')`); n != 0 {
				t.Errorf("%d lines left by failed attempts", n)
			}
		})
	}
	if n, err := s.PurgeReplacedText(ctx); n != 0 || err != nil {
		t.Fatalf("purge: %d, %v; want nothing to purge", n, err)
	}
}

// TestSearchWords checks how lines are split into words, on this store
// and on the SQLite store (whose FTS5 index is the reference): both find
// the same lines.
func TestSearchWords(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"postgres", func(t *testing.T) store.Store { return openTemp(t) }},
		{"sqlite", func(t *testing.T) store.Store {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "onepam.db"))
			mustT(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	lines := []string{
		"root:x:0:0:root:/root:/bin/bash",
		"see https://example.com/a-b/c_d?x=1 now",
		"O'Reilly said \\ hello",
		"Grüße aus Köln — ПРИВЕТ мир",
		"null\x00byte and \xff invalid utf-8",
		"deploy-prod-42 finished",
		"",
	}
	tests := []struct {
		query string
		want  []int // line numbers
	}{
		{"root", []int{0}},
		{"bin bash", []int{0}},
		{"/bin/bash", []int{0}},
		{"bash bin", nil},
		{"example com", []int{1}},
		{"c_d", []int{1}}, // "_" splits words
		{"c d", []int{1}},
		{"o'reilly", []int{2}},
		{"reilly SAID", []int{2}},
		{"grüße", []int{3}},
		{"GRÜSSE", nil},
		{"привет", []int{3}},
		{"köln привет", []int{3}},
		{"byte", []int{4}},
		{"invalid utf 8", []int{4}},
		{"prod 42", []int{5}},
		{"deploy-prod", []int{5}},
		{"prod deploy", nil},
		{"ro", nil}, // whole words only
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := t.Context()
			s := st.open(t)
			id := storetest.TextSession(ctx, t, s, time.Now())
			var ls []store.TextLine
			for i, l := range lines {
				ls = append(ls, store.TextLine{At: time.Duration(i) * time.Second, Text: l})
			}
			mustT(t, s.IndexRecordingText(ctx, id, ls))
			for _, tc := range tests {
				t.Run(tc.query, func(t *testing.T) {
					hits, err := s.SearchRecordings(ctx, store.SearchQuery{Text: tc.query})
					mustT(t, err)
					var got []int
					for _, h := range hits {
						got = append(got, int(h.At/time.Second))
					}
					if !slices.Equal(got, tc.want) {
						t.Fatalf("search %q: lines %v, want %v", tc.query, got, tc.want)
					}
				})
			}
			for _, q := range []string{"", "  ", "-- !!", "'"} {
				if _, err := s.SearchRecordings(ctx, store.SearchQuery{Text: q}); !errors.Is(err, store.ErrInvalid) {
					t.Errorf("search %q: got %v, want ErrInvalid", q, err)
				}
			}
		})
	}
}
