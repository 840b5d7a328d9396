package cli

import (
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/cli/iostreams"
)

func TestReplayDesktopPreview(t *testing.T) {
	const (
		blue = "\x1b[38;2;0;0;255m\x1b[48;2;0;0;255m▀"
		red  = "\x1b[38;2;255;0;0m\x1b[48;2;255;0;0m▀"
	)
	tests := []struct {
		name      string
		keys      string
		want      []string
		wantNot   []string
		wantFirst string
	}{
		// The fixture is blue at 0 and half red from 2s to its end at 3s.
		{name: "q quits at once", keys: "q", want: []string{blue, "0s / 3s"}, wantNot: []string{red}},
		{name: "jumping past the end shows the last screen, and input's end leaves", keys: "\x1b[C", want: []string{blue, red, "end of the recording"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := recordedEnv(t)
			ios, in, out, errOut := iostreams.Test()
			in.WriteString(tt.keys)
			ios.SetStdoutTTY(true)
			e.ios, e.out, e.errOut = ios, out, errOut
			if code := e.run(t, "sessions", "replay", vncSessionID); code != 0 {
				t.Fatalf("exit %d: %s", code, e.errOut)
			}
			got := out.String()
			if !strings.HasPrefix(got, previewEnter) || !strings.HasSuffix(got, previewLeave) {
				t.Fatalf("the terminal is not entered and restored:\n%q", got)
			}
			mustContain(t, got, tt.want...)
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Fatalf("output has %q", w)
				}
			}
		})
	}
}

func TestReplayDesktopNotATerminal(t *testing.T) {
	e := recordedEnv(t)
	if code := e.run(t, "sessions", "replay", vncSessionID); code != 0 {
		t.Fatalf("exit %d: %s", code, e.errOut)
	}
	mustContain(t, e.out.String(), "64×48", "sessions export "+vncSessionID+" --format gif|mp4", "web console")
	if strings.Contains(e.out.String(), "\x1b[") {
		t.Fatal("escape sequences when output is not a terminal")
	}
}
