package sqlstore

import (
	"reflect"
	"testing"
)

// TestArgs builds "a = ? AND b IN (?, ?)" used twice and "LIMIT ?" once:
// numbered placeholders pass each value once and share it; ? ones pass
// the values again at each use, in the order of the text.
func TestArgs(t *testing.T) {
	tests := []struct {
		name     string
		d        Dialect
		want     string
		wantArgs []any
	}{
		{"question-marks", Dialect{},
			`a = ? AND b IN (?, ?) | a = ? AND b IN (?, ?) | LIMIT ?`,
			[]any{1, "x", "y", 1, "x", "y", 50}},
		{"numbered", Dialect{Dollar: true},
			`a = $2 AND b IN ($3, $4) | a = $2 AND b IN ($3, $4) | LIMIT $1`,
			[]any{50, 1, "x", "y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.d.NewArgs()
			limit := a.Frag(`?`, 50)
			cond := a.Frag(`a = ? AND b IN (?, ?)`, 1, "x", "y")
			got := a.Use(cond) + ` | ` + a.Use(cond) + ` | LIMIT ` + a.Use(limit)
			if got != tc.want {
				t.Errorf("query %q, want %q", got, tc.want)
			}
			if !reflect.DeepEqual(a.Values(), tc.wantArgs) {
				t.Errorf("args %v, want %v", a.Values(), tc.wantArgs)
			}
		})
	}
}
