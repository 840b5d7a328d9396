package recordings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/api"
)

const sid = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"

type write struct {
	off   int64
	data  string
	final bool
	err   error // wanted error (errors.Is), nil for success
}

func TestDirWriteAt(t *testing.T) {
	tests := []struct {
		name   string
		writes []write
		want   string
	}{
		{"append", []write{{0, "hello ", false, nil}, {6, "world", true, nil}}, "hello world"},
		{"resend after a lost ack", []write{{0, "hello ", false, nil}, {6, "world", false, nil}, {6, "world", true, nil}}, "hello world"},
		{"resume from an older offset", []write{{0, "abc", false, nil}, {3, "def", false, nil}, {3, "def", false, nil}, {6, "gh", true, nil}}, "abcdefgh"},
		{"shorter rewrite truncates", []write{{0, "abcdef", false, nil}, {2, "X", false, nil}}, "abX"},
		{"rewrite from zero", []write{{0, "abcdef", false, nil}, {0, "abcdef", false, nil}}, "abcdef"},
		{"gap refused", []write{{0, "abc", false, nil}, {5, "zz", false, ErrGap}}, "abc"},
		{"gap on a new recording", []write{{1, "x", false, ErrGap}}, ""},
		{"empty final chunk", []write{{0, "abc", false, nil}, {3, "", true, nil}}, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			d, err := NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tt.writes {
				size, err := d.WriteAt(ctx, sid, api.FormatConnlog, w.off, []byte(w.data), w.final)
				if w.err != nil {
					if !errors.Is(err, w.err) {
						t.Fatalf("write %d: err %v, want %v", i, err, w.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("write %d: %v", i, err)
				}
				if size != w.off+int64(len(w.data)) {
					t.Fatalf("write %d: size %d", i, size)
				}
			}
			size, err := d.Size(ctx, sid, api.FormatConnlog)
			if err != nil || size != int64(len(tt.want)) {
				t.Fatalf("Size = %d, %v; want %d", size, err, len(tt.want))
			}
			if tt.want == "" {
				return
			}
			r, err := d.Open(ctx, sid, api.FormatConnlog)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, _ := io.ReadAll(r)
			if string(got) != tt.want {
				t.Fatalf("content %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDirLayout(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		format api.RecordingFormat
		file   string
	}{
		{api.FormatConnlog, "recording.jsonl"},
		{api.FormatAsciicast, "recording.cast"},
		{api.FormatQuerylog, "recording.jsonl"},
		{api.FormatHAR, "recording.har"},
		{api.FormatDeskproto, "recording.dpr"},
	}
	for i, tt := range tests {
		f, name := tt.format, tt.file
		t.Run(string(f), func(t *testing.T) {
			id := fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i)
			if _, err := d.WriteAt(ctx, id, f, 0, []byte("x"), true); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(filepath.Join(root, id, name))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v", st.Mode().Perm())
			}
			if err := d.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(root, id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("session dir left after Delete: %v", err)
			}
		})
	}
}

func TestDirRejects(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := NewDir(filepath.Join(root, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	badIDs := []string{
		"", "..", "../x", "../../etc/passwd", "/etc/passwd",
		"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/../../x",
		"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", // not canonical
		"{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}",
		"0190a1b2c3d47e5f8a9b0c1d2e3f4a5b",
		"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\x00",
	}
	for _, id := range badIDs {
		t.Run("id "+id, func(t *testing.T) {
			if _, err := d.WriteAt(ctx, id, api.FormatConnlog, 0, []byte("x"), false); !errors.Is(err, ErrBadSessionID) {
				t.Errorf("WriteAt: %v", err)
			}
			if _, err := d.Size(ctx, id, api.FormatConnlog); !errors.Is(err, ErrBadSessionID) {
				t.Errorf("Size: %v", err)
			}
			if _, err := d.Open(ctx, id, api.FormatConnlog); !errors.Is(err, ErrBadSessionID) {
				t.Errorf("Open: %v", err)
			}
			if err := d.Delete(ctx, id); !errors.Is(err, ErrBadSessionID) {
				t.Errorf("Delete: %v", err)
			}
		})
	}
	t.Run("unknown format", func(t *testing.T) {
		if _, err := d.WriteAt(ctx, sid, "../x", 0, []byte("x"), false); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("WriteAt: %v", err)
		}
	})
	t.Run("negative offset", func(t *testing.T) {
		if _, err := d.WriteAt(ctx, sid, api.FormatConnlog, -1, []byte("x"), false); err == nil {
			t.Error("accepted")
		}
	})
	t.Run("missing recording", func(t *testing.T) {
		if _, err := d.Open(ctx, sid, api.FormatConnlog); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open: %v", err)
		}
		if err := d.Delete(ctx, sid); err != nil {
			t.Errorf("Delete: %v", err)
		}
	})
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("files escaped the recordings dir: %v", entries)
	}
}

func TestNativeExport(t *testing.T) {
	var buf bytes.Buffer
	line := `{"t":0.1,"event":"open","conn":1}` + "\n"
	if err := Export(api.FormatConnlog, &buf, Inner(strings.NewReader(line))); err != nil || buf.String() != line {
		t.Fatalf("connlog export: %q %v", buf.String(), err)
	}
	for f, ext := range map[api.RecordingFormat]string{api.FormatAsciicast: ".cast", api.FormatHAR: ".har", api.FormatConnlog: ".jsonl", api.FormatQuerylog: ".jsonl", api.FormatDeskproto: ".dpr"} {
		if got := NativeExt(f); got != ext {
			t.Errorf("%s: %s, want %s", f, got, ext)
		}
	}
	if err := Export(api.FormatAsciicast, io.Discard, strings.NewReader("not a recording")); err == nil {
		t.Fatal("a malformed terminal recording exported without error")
	}
}
