package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// The helpers of this file serve the recording-text tests of both stores
// (indexing attempts, search, catch-up listing).

// TextSession creates in s an SSH session at `at` whose terminal
// recording is final and available, and returns its id.
func TextSession(ctx context.Context, t testing.TB, s store.Store, at time.Time) string {
	t.Helper()
	id := store.IDAt(at)
	if err := s.CreateSession(ctx, api.Session{ID: id, User: "alice", Type: api.TypeSSH, Status: api.StatusPending,
		Resource: "web-1", CreatedAt: at, Recording: api.Recording{Format: api.FormatAsciicast}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRecording(ctx, id, api.Recording{Format: api.FormatAsciicast, State: api.RecordingComplete, Size: 1, Available: true}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TextLines are n lines "line <i> of <tag>" for i from `from`, i seconds
// into the recording.
func TextLines(tag string, from, n int) []store.TextLine {
	var ls []store.TextLine
	for i := from; i < from+n; i++ {
		ls = append(ls, store.TextLine{At: time.Duration(i) * time.Second, Text: fmt.Sprintf("line %d of %s", i, tag)})
	}
	return ls
}

// SearchCounts returns how many hits each line (by its text) has in the
// search of s for words.
func SearchCounts(ctx context.Context, t testing.TB, s store.Store, words string) map[string]int {
	t.Helper()
	hits, err := s.SearchRecordings(ctx, store.SearchQuery{Text: words, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, h := range hits {
		n[h.Line]++
	}
	return n
}

// WantEachOnce fails unless the search of s for words finds exactly the
// lines of want, each once.
func WantEachOnce(ctx context.Context, t testing.TB, s store.Store, words string, want []store.TextLine) {
	t.Helper()
	got := SearchCounts(ctx, t, s, words)
	for _, l := range want {
		if got[l.Text] != 1 {
			t.Errorf("%q found %d times, want once", l.Text, got[l.Text])
		}
		delete(got, l.Text)
	}
	if len(got) > 0 {
		t.Errorf("lines found that should not be: %v", got)
	}
}

// unindexedLister is the part of a store that lists the recordings the
// search catch-up has to index.
type unindexedLister interface {
	UnindexedRecordings(ctx context.Context, q store.UnindexedQuery) ([]store.UnindexedRecording, error)
}

// UnindexedIDs walks s's unindexed terminal recordings two at a time
// (at most 3 attempts each) and returns their session ids in order.
func UnindexedIDs(ctx context.Context, t testing.TB, s unindexedLister) []string {
	t.Helper()
	q := store.UnindexedQuery{Formats: []api.RecordingFormat{api.FormatAsciicast}, MaxAttempts: 3, Limit: 2}
	var ids []string
	for {
		rs, err := s.UnindexedRecordings(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			return ids
		}
		for _, r := range rs {
			ids = append(ids, r.SessionID)
		}
		q.Before = ids[len(ids)-1]
	}
}
