package store

import (
	"errors"
	"sort"
	"testing"
	"time"
)

func TestIDs(t *testing.T) {
	t.Run("new-ids-are-v7-and-ordered", func(t *testing.T) {
		ids := make([]string, 1000)
		for i := range ids {
			ids[i] = NewID()
			if err := ValidateID(ids[i]); err != nil {
				t.Fatalf("NewID: %v", err)
			}
		}
		if !sort.StringsAreSorted(ids) {
			t.Fatalf("ids from NewID are not in lexical (time) order")
		}
	})
	t.Run("id-at-and-bounds", func(t *testing.T) {
		at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
		id := IDAt(at)
		if err := ValidateID(id); err != nil {
			t.Fatalf("IDAt: %v", err)
		}
		got, err := IDTime(id)
		if err != nil || !got.Equal(at.Truncate(time.Millisecond)) {
			t.Fatalf("IDTime: %v, %v; want %v", got, err, at.Truncate(time.Millisecond))
		}
		tests := []struct {
			name  string
			bound time.Time
			above bool // id >= IDLowerBound(bound)
		}{
			{"same instant", at, true},
			{"same millisecond, later", at.Add(500 * time.Microsecond), true},
			{"previous millisecond", at.Add(-time.Millisecond), true},
			{"next millisecond", at.Add(time.Millisecond), false},
			{"zero time", time.Time{}, true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if got := id >= IDLowerBound(tc.bound); got != tc.above {
					t.Fatalf("%s >= bound(%v): %v, want %v", id, tc.bound, got, tc.above)
				}
			})
		}
	})
	t.Run("validate", func(t *testing.T) {
		for _, bad := range []string{"", "nope", "01955A3C-0000-7000-8000-000000000000",
			"6ba7b810-9dad-41d1-80b4-00c04fd430c8", "{" + NewID() + "}", "urn:uuid:" + NewID()} {
			if err := ValidateID(bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("ValidateID(%q) = %v, want ErrInvalid", bad, err)
			}
			if _, err := IDTime(bad); err == nil {
				t.Fatalf("IDTime(%q) accepted", bad)
			}
		}
	})
}
