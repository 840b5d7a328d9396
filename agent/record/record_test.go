package record

import (
	"errors"
	"testing"
)

// failingSink accepts ok bytes, then fails every write.
type failingSink struct {
	ok, got  int
	finalCut bool
	final    bool
}

func (s *failingSink) Write(p []byte) (int, error) {
	if s.got+len(p) > s.ok {
		return 0, errors.New("disk full")
	}
	s.got += len(p)
	return len(p), nil
}

func (s *failingSink) Finalize(cut bool) (int64, error) {
	s.final, s.finalCut = true, cut
	return int64(s.got), nil
}

func TestModes(t *testing.T) {
	tests := []struct {
		name      string
		mode      Mode
		wantErr   bool
		wantWrite int
	}{
		{"fail-closed returns the error", FailClosed, true, 0},
		{"fail-open swallows it", FailOpen, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &failingSink{ok: 4}
			r := New(sink, tt.mode, nil)
			if n, err := r.Write([]byte("abcd")); n != 4 || err != nil {
				t.Fatalf("first write: %d, %v", n, err)
			}
			for i := 0; i < 2; i++ { // the failure is sticky
				n, err := r.Write([]byte("efg"))
				if (err != nil) != tt.wantErr || n != tt.wantWrite {
					t.Fatalf("write %d after failure: %d, %v", i, n, err)
				}
			}
			size, err := r.Finalize(false)
			if err != nil || size != 4 || !sink.final || !sink.finalCut {
				t.Fatalf("Finalize: %d, %v; sink final=%v cut=%v (a failed recording is cut)", size, err, sink.final, sink.finalCut)
			}
		})
	}
}

func TestDiscard(t *testing.T) {
	r := Discard()
	if n, err := r.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if size, err := r.Finalize(true); size != 0 || err != nil {
		t.Fatalf("Finalize: %d, %v", size, err)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": FailClosed, "fail-closed": FailClosed, "fail-open": FailOpen} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseMode("sometimes"); err == nil {
		t.Error("ParseMode accepted nonsense")
	}
}
