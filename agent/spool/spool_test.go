package spool

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

var testSigner = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))

func testConfig(dir string) Config {
	return Config{Dir: dir, FlushInterval: 5 * time.Millisecond, Signer: testSigner, AgentID: "agent-1"}
}

func openSpool(t *testing.T, dir string) *Spool {
	t.Helper()
	return openSpoolWith(t, testConfig(dir))
}

func openSpoolWith(t *testing.T, cfg Config) *Spool {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitView polls a recording's state until cond holds.
func waitView(t *testing.T, r *Recording, cond func(View) bool) View {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		v := r.View()
		if cond(v) {
			return v
		}
		select {
		case <-v.Changed:
		case <-deadline:
			t.Fatalf("recording %s: condition not reached (stable %d, tail %d, final %v)", r.ID, v.Stable, len(v.Tail), v.Final)
		}
	}
}

// inner decodes a spooled container file.
func inner(t *testing.T, path string) ([]byte, *container.Reader) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := container.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rd.StreamFrom(0))
	if err != nil {
		t.Fatal(err)
	}
	return got, rd
}

// crash abandons a writer as a killed process would: no more flushes,
// files closed, nothing finalised.
func (w *Writer) crash() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.timer.Stop()
	w.data.Close()
	w.closeSlots(false)
}

func TestWriteFinalizeReopen(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	w, err := s.Create("s1", api.FormatConnlog)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("line of the recording\n"), 30000) // several frames
	for i := 0; i < len(want); i += 1000 {
		if _, err := w.Write(want[i:min(i+1000, len(want))]); err != nil {
			t.Fatal(err)
		}
	}
	size, err := w.Finalize(false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after finalize: %v", err)
	}
	path := filepath.Join(dir, "s1.connlog.oprec")
	got, rd := inner(t, path)
	if !bytes.Equal(got, want) {
		t.Fatalf("inner stream differs (%d bytes, want %d)", len(got), len(want))
	}
	if st, _ := os.Stat(path); st.Size() != size {
		t.Fatalf("Finalize said %d bytes, file has %d", size, st.Size())
	}
	if h := rd.Header(); h.SessionID != "s1" || h.Format != api.FormatConnlog || h.AgentID != "agent-1" {
		t.Fatalf("header %+v", h)
	}
	f, _ := os.Open(path)
	rep, err := container.Verify(f, size, testSigner.Public().(ed25519.PublicKey))
	f.Close()
	if err != nil || rep.Status != container.StatusOK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("files besides the container after finalize: %v", ents)
	}

	s2 := openSpool(t, dir)
	r, ok := s2.Get("s1")
	if !ok {
		t.Fatal("recording lost on reopen")
	}
	v := r.View()
	if v.Stable != size || !v.Final || v.Cut || r.Format != api.FormatConnlog || r.Legacy() {
		t.Fatalf("reopened: %+v format %s", v, r.Format)
	}
	if s2.Used() != size {
		t.Fatalf("spool usage %d, want %d", s2.Used(), size)
	}
	if _, err := s2.Create("s1", api.FormatConnlog); !errors.Is(err, ErrExists) {
		t.Fatalf("create over an existing recording: %v", err)
	}
	if err := s2.Remove("s1"); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 || s2.Used() != 0 {
		t.Fatalf("files left after Remove: %v (usage %d)", ents, s2.Used())
	}
}

func TestFramesGrowWhileDurable(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir)
	w, _ := s.Create("grow", api.FormatConnlog)
	rec, _ := s.Get("grow")
	var want []byte
	for i := range 20 {
		line := []byte(strings.Repeat("x", i) + "\n")
		w.Write(line)
		want = append(want, line...)
		// Each write becomes durable and visible as a new version of the
		// same open frame.
		v := waitView(t, rec, func(v View) bool { return len(v.Tail) > 0 && tailRaw(t, v) == len(want) })
		if len(rec.bounds) != 1 {
			t.Fatalf("write %d: %d pieces in the data file, want only the header", i, len(rec.bounds))
		}
		_ = v
	}
	w.crash()
	s2 := openSpool(t, dir)
	r, _ := s2.Get("grow")
	if v := r.View(); !v.Final || !v.Cut {
		t.Fatalf("after crash: %+v", v)
	}
	got, rd := inner(t, filepath.Join(dir, "grow.connlog.oprec"))
	if !bytes.Equal(got, want) || rd.NumFrames() != 1 {
		t.Fatalf("recovered %q in %d frames, want %q in 1", got, rd.NumFrames(), want)
	}
}

// tailRaw returns the raw size of a view's open-frame snapshot.
func tailRaw(t *testing.T, v View) int {
	t.Helper()
	// The frame header's raw length field (offset 24, 4 bytes).
	b := v.Tail
	return int(uint32(b[24])<<24 | uint32(b[25])<<16 | uint32(b[26])<<8 | uint32(b[27]))
}

func TestCrashRecovery(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		wantAll bool // every byte written survives
	}{
		{"clean crash", func(*testing.T, string) {}, true},
		{"torn piece at the end of the data file", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "c.asciicast.oprec"), []byte("D\x00\x00\x00partial frame"))
		}, true},
		{"newest snapshot torn", func(t *testing.T, dir string) {
			newest := newestSlot(t, dir)
			b, _ := os.ReadFile(newest)
			os.WriteFile(newest, b[:len(b)/2], 0o600)
		}, false},
		{"both snapshots lost", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "c.asciicast.oprec.open0"))
			os.Remove(filepath.Join(dir, "c.asciicast.oprec.open1"))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.FrameSize = 4096
			s := openSpoolWith(t, cfg)
			w, _ := s.Create("c", api.FormatAsciicast)
			rec, _ := s.Get("c")
			var want []byte
			for i := range 300 {
				line := []byte(strings.Repeat(string(rune('a'+i%26)), 1+i%40) + "\n")
				w.Write(line)
				want = append(want, line...)
				if i%50 == 49 {
					n := len(want)
					waitView(t, rec, func(v View) bool {
						return len(v.Tail) > 0 && tailRaw(t, v) > 0 && w.cw.Stats().RawSize+int64(tailRaw(t, v)) == int64(n)
					})
				}
			}
			waitView(t, rec, func(v View) bool {
				return len(v.Tail) > 0 && w.cw.Stats().RawSize+int64(tailRaw(t, v)) == int64(len(want))
			})
			closed := w.cw.Stats().RawSize
			w.crash()
			tt.damage(t, dir)
			s2 := openSpoolWith(t, cfg)
			r, ok := s2.Get("c")
			if !ok || !r.View().Final || !r.Cut() {
				t.Fatalf("recovered: %v %+v", ok, r.View())
			}
			got, _ := inner(t, filepath.Join(dir, "c.asciicast.oprec"))
			if !bytes.HasPrefix(want, got) || int64(len(got)) < closed {
				t.Fatalf("recovered %d bytes, not a prefix of the %d written or shorter than the %d closed", len(got), len(want), closed)
			}
			if tt.wantAll && len(got) != len(want) {
				t.Fatalf("recovered %d bytes, want all %d", len(got), len(want))
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Fatalf("files left besides the container: %v", ents)
			}
		})
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b)
	f.Close()
}

// newestSlot returns the snapshot slot written last.
func newestSlot(t *testing.T, dir string) string {
	t.Helper()
	var best string
	var bestT time.Time
	for _, suf := range slotSuffix {
		p := filepath.Join(dir, "c.asciicast.oprec"+suf)
		if st, err := os.Stat(p); err == nil && st.Size() > 0 && !st.ModTime().Before(bestT) {
			best, bestT = p, st.ModTime()
		}
	}
	if best == "" {
		t.Fatal("no snapshot written")
	}
	return best
}

func TestDamagedHeaderIsSetAside(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "d.connlog.oprec"), []byte("OPREX\x01\x00\x00\x00\x02{}garbage"), 0o600)
	s := openSpool(t, dir)
	if _, ok := s.Get("d"); ok {
		t.Fatal("damaged recording taken")
	}
	if _, err := os.Stat(filepath.Join(dir, "d.connlog.oprec.damaged")); err != nil {
		t.Fatal(err)
	}
}

func TestLegacyTornSidecarIsCut(t *testing.T) {
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
			if size != tt.wantSize || !final || r.Cut() != tt.wantCut || !r.Legacy() {
				t.Fatalf("size %d final %v cut %v legacy %v; want %d true %v", size, final, r.Cut(), r.Legacy(), tt.wantSize, tt.wantCut)
			}
			b, _ := os.ReadFile(filepath.Join(dir, "s.connlog.meta"))
			if recs, n := parseSidecar(b); n != len(b) || len(recs) == 0 {
				t.Fatalf("sidecar after repair: %d records, %d of %d bytes valid", len(recs), n, len(b))
			}
			if st, _ := os.Stat(filepath.Join(dir, "s.connlog")); st.Size() != tt.wantSize {
				t.Fatalf("data file %d bytes, want %d", st.Size(), tt.wantSize)
			}
		})
	}
}

func TestSpoolLimit(t *testing.T) {
	tests := []struct {
		name     string
		failOpen bool
	}{{"fail-closed", false}, {"fail-open", true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(dir)
			cfg.FrameSize = 4096
			cfg.Limit = cfg.Headroom() + 64<<10
			cfg.FailOpen = tt.failOpen
			var fulls atomic.Int32
			full := make(chan string, 4)
			cfg.OnFull = func(id string, err error) {
				fulls.Add(1)
				if !errors.Is(err, ErrFull) {
					t.Errorf("OnFull error %v", err)
				}
				full <- id
			}
			s := openSpoolWith(t, cfg)
			w, err := s.Create("big", api.FormatConnlog)
			if err != nil {
				t.Fatal(err)
			}
			chunk := randomBytes(8 << 10) // incompressible
			var writeErr error
			for range 64 {
				if _, writeErr = w.Write(chunk); writeErr != nil {
					break
				}
			}
			if id := <-full; id != "big" {
				t.Fatalf("OnFull for %q", id)
			}
			if tt.failOpen {
				if writeErr != nil || !w.Stopped() {
					t.Fatalf("fail-open: write error %v, stopped %v", writeErr, w.Stopped())
				}
			} else if !errors.Is(writeErr, ErrFull) || !strings.Contains(writeErr.Error(), "spool_limit") {
				t.Fatalf("fail-closed: write error %v", writeErr)
			}
			if s.Used() > cfg.Limit {
				t.Fatalf("spool holds %d bytes, over the %d limit", s.Used(), cfg.Limit)
			}
			_, err = s.Create("next", api.FormatConnlog)
			if tt.failOpen != (err == nil) {
				t.Fatalf("create at the limit: %v", err)
			}
			if _, err := w.Finalize(false); err != nil {
				t.Fatal(err)
			}
			got, _ := inner(t, filepath.Join(dir, "big.connlog.oprec"))
			if len(got) == 0 || len(got)%len(chunk) != 0 {
				t.Fatalf("kept %d bytes: not whole writes", len(got))
			}
			if fulls.Load() != 1 {
				t.Fatalf("OnFull called %d times", fulls.Load())
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
	if ents, _ := os.ReadDir(dir); len(ents) != 0 || s.Used() != 0 {
		t.Fatalf("files left: %v (usage %d)", ents, s.Used())
	}
}
