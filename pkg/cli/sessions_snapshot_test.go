package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
)

func TestSessionsSnapshot(t *testing.T) {
	e := recordedEnv(t)
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"at 1s: all blue", []string{"--at", "1s"}, "snapshot-1s.png"},
		{"default is the end: red and blue", nil, "snapshot-end.png"},
		{"past the end is the last screen", []string{"--at", "1h"}, "snapshot-end.png"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.golden+string(rune('a'+i)))
			args := append([]string{"sessions", "snapshot", vncSessionID, "-o", path}, tt.args...)
			if code := e.run(t, args...); code != 0 {
				t.Fatalf("exit %d: %s", code, e.errOut)
			}
			if got := strings.TrimSpace(e.out.String()); got != path {
				t.Fatalf("printed %q, want %q", got, path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, string(b))
		})
	}
	t.Run("standard output", func(t *testing.T) {
		if code := e.run(t, "sessions", "snapshot", vncSessionID, "--at", "1s", "-o", "-"); code != 0 {
			t.Fatalf("exit %d: %s", code, e.errOut)
		}
		golden(t, "snapshot-1s.png", e.out.String())
	})
	t.Run("not a desktop session", func(t *testing.T) {
		if code := e.run(t, "sessions", "snapshot", dbSessionID, "-o", filepath.Join(dir, "x.png")); code != cmdutil.ExitError {
			t.Fatalf("exit %d", code)
		}
		mustContain(t, e.errOut.String(), "only for desktop sessions")
	})
}
