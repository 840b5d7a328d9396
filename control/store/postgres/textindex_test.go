package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
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
	urls := map[storetest.TextStore]string{} // each case's store → its database
	storetest.RunTextIndexAttempts(t, func(t *testing.T) storetest.TextStore {
		url := pgtest.NewDatabase(t)
		s, err := postgres.Open(context.Background(), url)
		mustT(t, err)
		t.Cleanup(func() { s.Close() })
		urls[s] = url
		return s
	}, storetest.TextTables{
		Attempts: func(t *testing.T, s storetest.TextStore, id string) int {
			return rawCount(t, urls[s], `SELECT attempts FROM recording_text_state WHERE session_id = '`+id+`'`)
		},
		StrayLines: func(t *testing.T, s storetest.TextStore) int {
			return rawCount(t, urls[s], `SELECT COUNT(*) FROM recording_text r JOIN recording_text_state x ON x.num = r.num
				WHERE x.state IN ('failed', 'missing')`)
		},
	})
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
