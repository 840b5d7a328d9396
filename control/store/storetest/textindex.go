package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
)

// TextStore is a store with the recording-text indexing steps that
// control/recordings uses (begin, add, finish, fail an attempt; index at
// once; list what is left; purge replaced lines).
type TextStore interface {
	store.Store
	BeginRecordingText(ctx context.Context, sessionID string) (store.TextIndexing, bool, error)
	AddRecordingText(ctx context.Context, ti *store.TextIndexing, lines []store.TextLine) error
	FinishRecordingText(ctx context.Context, ti *store.TextIndexing, lines []store.TextLine) error
	FailRecordingText(ctx context.Context, sessionID string, f store.TextFailure, reason string) error
	IndexRecordingText(ctx context.Context, sessionID string, lines []store.TextLine) error
	UnindexedRecordings(ctx context.Context, q store.UnindexedQuery) ([]store.UnindexedRecording, error)
	PurgeReplacedText(ctx context.Context) (int64, error)
}

// TextTables reads a store's text-index tables directly, for what the
// store's API does not show.
type TextTables struct {
	// Attempts is recording_text_state.attempts of the session.
	Attempts func(t *testing.T, s TextStore, sessionID string) int
	// StrayLines counts the lines left by failed or missing attempts.
	StrayLines func(t *testing.T, s TextStore) int
}

// RunTextIndexAttempts checks the indexing attempts of a recording's
// text, each case on a new store from open (with another recording,
// indexed, whose lines must stay as they are): lines are searchable only
// once an attempt finished, each once; a new attempt replaces an
// unfinished one; a superseded attempt writes nothing; failures are
// listed for another try up to 3 attempts, interruptions not counted,
// missing recordings not listed; concurrent begins (several control
// nodes) take one attempt each, in turn.
func RunTextIndexAttempts(t *testing.T, open func(t *testing.T) TextStore, tables TextTables) {
	ctx := t.Context()
	all := TextLines("rec", 0, 10)
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// run does the attempts of a control (or of several, one after
		// the other) on recording id.
		run          func(t *testing.T, s TextStore, id string)
		wantLines    []store.TextLine // searchable afterwards, each once
		wantListed   bool             // by UnindexedRecordings (MaxAttempts 3)
		wantAttempts int
	}{
		{"finished in batches", func(t *testing.T, s TextStore, id string) {
			ti, ok, err := s.BeginRecordingText(ctx, id)
			if !ok || err != nil {
				t.Fatalf("begin: %v %v", ok, err)
			}
			must(t, s.AddRecordingText(ctx, &ti, all[:4]))
			must(t, s.AddRecordingText(ctx, &ti, all[4:8]))
			must(t, s.FinishRecordingText(ctx, &ti, all[8:]))
			if ti.Lines != int64(len(all)) {
				t.Fatalf("%d lines counted, want %d", ti.Lines, len(all))
			}
		}, all, false, 1},
		{"unfinished: nothing searchable, listed", func(t *testing.T, s TextStore, id string) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			must(t, err)
			must(t, s.AddRecordingText(ctx, &ti, all[:5]))
		}, nil, true, 1},
		{"unfinished, then indexed again", func(t *testing.T, s TextStore, id string) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			must(t, err)
			must(t, s.AddRecordingText(ctx, &ti, all[:5]))
			// control stops; the next one begins again
			ti, ok, err := s.BeginRecordingText(ctx, id)
			if !ok || err != nil || ti.Attempt != 2 || ti.Lines != 0 {
				t.Fatalf("second begin: %+v %v %v", ti, ok, err)
			}
			must(t, s.AddRecordingText(ctx, &ti, all[:5]))
			must(t, s.FinishRecordingText(ctx, &ti, all[5:]))
		}, all, false, 2},
		{"indexed: not begun again", func(t *testing.T, s TextStore, id string) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			must(t, err)
			must(t, s.FinishRecordingText(ctx, &ti, all))
			if _, ok, err := s.BeginRecordingText(ctx, id); ok || err != nil {
				t.Fatalf("begin of an indexed recording: %v %v", ok, err)
			}
			must(t, s.FailRecordingText(ctx, id, store.TextFailed, "late")) // leaves it indexed
		}, all, false, 1},
		{"superseded attempt writes nothing", func(t *testing.T, s TextStore, id string) {
			old, _, err := s.BeginRecordingText(ctx, id)
			must(t, err)
			cur, _, err := s.BeginRecordingText(ctx, id)
			must(t, err)
			if err := s.AddRecordingText(ctx, &old, all[:5]); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("add of a superseded attempt: %v", err)
			}
			if err := s.FinishRecordingText(ctx, &old, all[:5]); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("finish of a superseded attempt: %v", err)
			}
			must(t, s.FinishRecordingText(ctx, &cur, all))
		}, all, false, 2},
		{"failed: listed, lines gone", func(t *testing.T, s TextStore, id string) {
			ti, _, err := s.BeginRecordingText(ctx, id)
			must(t, err)
			must(t, s.AddRecordingText(ctx, &ti, all[:5]))
			must(t, s.FailRecordingText(ctx, id, store.TextFailed, "read error"))
		}, nil, true, 1},
		{"failed 3 times: not listed", func(t *testing.T, s TextStore, id string) {
			for range 3 {
				_, _, err := s.BeginRecordingText(ctx, id)
				must(t, err)
				must(t, s.FailRecordingText(ctx, id, store.TextFailed, "read error"))
			}
		}, nil, false, 3},
		{"interrupted 3 times: listed, attempts not counted", func(t *testing.T, s TextStore, id string) {
			for range 3 {
				_, _, err := s.BeginRecordingText(ctx, id)
				must(t, err)
				must(t, s.FailRecordingText(ctx, id, store.TextInterrupted, "shutdown"))
			}
		}, nil, true, 0},
		{"missing: not listed", func(t *testing.T, s TextStore, id string) {
			_, _, err := s.BeginRecordingText(ctx, id)
			must(t, err)
			must(t, s.FailRecordingText(ctx, id, store.TextMissing, "recording not found"))
		}, nil, false, 1},
		{"IndexRecordingText replaces", func(t *testing.T, s TextStore, id string) {
			must(t, s.IndexRecordingText(ctx, id, TextLines("stale", 100, 3)))
			must(t, s.IndexRecordingText(ctx, id, all))
			WantEachOnce(ctx, t, s, "stale", nil)
		}, all, false, 2},
		{"nodes beginning at once: one attempt each, in turn", func(t *testing.T, s TextStore, id string) {
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
			must(t, s.FinishRecordingText(ctx, &tis[last], all))
		}, all, false, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			id := TextSession(ctx, t, s, time.Now())
			other := TextSession(ctx, t, s, time.Now().Add(-time.Hour))
			must(t, s.IndexRecordingText(ctx, other, TextLines("other", 0, 3)))

			tc.run(t, s, id)
			WantEachOnce(ctx, t, s, "rec", tc.wantLines)
			WantEachOnce(ctx, t, s, "other", TextLines("other", 0, 3))
			listed := UnindexedIDs(ctx, t, s)
			if got := slices.Contains(listed, id); got != tc.wantListed || len(listed) > 1 {
				t.Errorf("unindexed %v, want %s listed: %v", listed, id, tc.wantListed)
			}
			if n := tables.Attempts(t, s, id); n != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", n, tc.wantAttempts)
			}
			// Whatever happened, failed attempts left no line.
			if n := tables.StrayLines(t, s); n != 0 {
				t.Errorf("%d lines left by failed attempts", n)
			}
			if n, err := s.PurgeReplacedText(ctx); n != 0 || err != nil {
				t.Errorf("purge: %d, %v; want nothing to purge", n, err)
			}
		})
	}
}
