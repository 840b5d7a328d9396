package spool

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

func openSpool(t *testing.T, dir string) *Spool {
	t.Helper()
	s, err := Open(Config{Dir: dir, FlushDelay: time.Millisecond, SyncInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitState polls a recording's state until cond holds.
func waitState(t *testing.T, r *Recording, cond func(size int64, final bool) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		size, final, changed := r.State()
		if cond(size, final) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("recording %s: condition not reached (size %d, final %v)", r.ID, size, final)
		}
	}
}

func sidecar(t *testing.T, dir, id string) []sideRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, id+".connlog.meta"))
	if err != nil {
		t.Fatal(err)
	}
	recs, n := parseSidecar(b)
	if n != len(b) {
		t.Fatalf("sidecar has %d trailing bytes", len(b)-n)
	}
	return recs
}

func TestWriteFinalizeReopen(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	w, err := s.Create("s1", api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("line of the recording\n"), 10000) // larger than the buffer
	for i := 0; i < len(want); i += 1000 {
		if _, err := w.Write(want[i:min(i+1000, len(want))]); err != nil {
			t.Fatal(err)
		}
	}
	size, err := w.Finalize(false)
	if err != nil || size != int64(len(want)) {
		t.Fatalf("Finalize = %d, %v; want %d", size, err, len(want))
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after finalize: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "s1.connlog"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("data file differs (%d bytes, %v)", len(got), err)
	}
	recs := sidecar(t, dir, "s1")
	if last := recs[len(recs)-1]; last.kind != kindFinal || last.length != int64(len(want)) {
		t.Fatalf("last sidecar record %+v", last)
	}

	s2 := openSpool(t, dir)
	r, ok := s2.Get("s1")
	if !ok {
		t.Fatal("recording lost on reopen")
	}
	size, final, _ := r.State()
	if size != int64(len(want)) || !final || r.Cut() || r.Format != api.FormatConnlog {
		t.Fatalf("reopened: size %d final %v cut %v format %s", size, final, r.Cut(), r.Format)
	}
	if _, err := s2.Create("s1", api.FormatConnlog); !errors.Is(err, ErrExists) {
		t.Fatalf("create over an existing recording: %v", err)
	}
	if err := s2.Remove("s1"); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files left after Remove: %v", ents)
	}
}

func TestCrashKeepsDataAndIsFinalisedAsCut(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	w, err := s.Create("crashed", api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"t":0,"event":"open","conn":1}` + "\n")
	w.Write(data)
	rec, _ := s.Get("crashed")
	waitState(t, rec, func(size int64, _ bool) bool { return size == int64(len(data)) })
	// Wait for a sync record: the data is durable.
	deadline := time.Now().Add(10 * time.Second)
	for len(sidecar(t, dir, "crashed")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no sync record written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// "Crash": the writer is never finalised; a new process opens the spool.
	s2 := openSpool(t, dir)
	r, ok := s2.Get("crashed")
	if !ok {
		t.Fatal("recording lost")
	}
	size, final, _ := r.State()
	if size != int64(len(data)) || !final || !r.Cut() {
		t.Fatalf("after crash: size %d final %v cut %v", size, final, r.Cut())
	}
	got, _ := os.ReadFile(filepath.Join(dir, "crashed.connlog"))
	if !bytes.Equal(got, data) {
		t.Fatalf("data %q, want %q", got, data)
	}
	recs := sidecar(t, dir, "crashed")
	if last := recs[len(recs)-1]; last.kind != kindCut || last.length != int64(len(data)) {
		t.Fatalf("last record %+v, want cut at %d", last, len(data))
	}
}

func TestTornSidecarIsCut(t *testing.T) {
	good := sideRecord{kind: kindSynced, length: 10}.marshal()
	final := sideRecord{kind: kindFinal, length: 10}.marshal()
	corrupt := final
	corrupt[5] ^= 0xff
	tests := []struct {
		name     string
		sidecar  []byte
		data     string
		wantSize int64
		wantCut  bool
	}{
		{"torn trailing record", append(append(good[:], final[:]...), 's', 0, 0), "0123456789", 10, false},
		{"torn final record", append(good[:], final[:7]...), "0123456789", 10, true},
		{"corrupt final record", append(good[:], corrupt[:]...), "0123456789", 10, true},
		{"garbage only", []byte("xyz"), "abc", 3, true},
		{"data beyond final is trimmed", final[:], "0123456789tail", 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "s.connlog"), []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "s.connlog.meta"), tt.sidecar, 0o600); err != nil {
				t.Fatal(err)
			}
			s := openSpool(t, dir)
			r, ok := s.Get("s")
			if !ok {
				t.Fatal("recording not found")
			}
			size, final, _ := r.State()
			if size != tt.wantSize || !final || r.Cut() != tt.wantCut {
				t.Fatalf("size %d final %v cut %v; want %d true %v", size, final, r.Cut(), tt.wantSize, tt.wantCut)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "s.connlog.meta"))
			if len(b)%recordSize != 0 {
				t.Fatalf("sidecar still torn: %d bytes", len(b))
			}
			if recs, n := parseSidecar(b); n != len(b) || len(recs) == 0 {
				t.Fatalf("sidecar after repair: %d records, %d of %d bytes valid", len(recs), n, len(b))
			}
			if st, _ := os.Stat(filepath.Join(dir, "s.connlog")); st.Size() != tt.wantSize {
				t.Fatalf("data file %d bytes, want %d", st.Size(), tt.wantSize)
			}
		})
	}
}

func TestSpoolRejectsBadNamesAndIgnoresStrangers(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o600)
	os.WriteFile(filepath.Join(dir, "x.unknownformat"), []byte("hi"), 0o600)
	s := openSpool(t, dir)
	if ids := s.IDs(); len(ids) != 0 {
		t.Fatalf("strangers taken as recordings: %v", ids)
	}
	for _, id := range []string{"", "../evil", "a/b", ".hidden", strings.Repeat("x", 200)} {
		if _, err := s.Create(id, api.FormatConnlog); err == nil {
			t.Errorf("Create(%q) accepted", id)
		}
	}
	if _, err := s.Create("ok", "zip"); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestAbortRemovesRecording(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	w, err := s.Create("gone", api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get("gone"); ok {
		t.Fatal("aborted recording still listed")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("files left: %v", ents)
	}
}
