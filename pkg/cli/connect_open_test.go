package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/cli/iostreams"
)

func TestBrowserCommand(t *testing.T) {
	const u = "http://127.0.0.1:8080/"
	for _, tc := range []struct {
		name, browser, goos string
		want                []string
	}{
		{"no BROWSER on Linux", "", "linux", []string{"xdg-open", u}},
		{"no BROWSER on macOS", "", "darwin", []string{"open", u}},
		{"no BROWSER on Windows", "", "windows", []string{"rundll32", "url.dll,FileProtocolHandler", u}},
		{"BROWSER a command", "firefox", "linux", []string{"firefox", u}},
		{"BROWSER with arguments", "chromium --new-window", "linux", []string{"chromium", "--new-window", u}},
		{"BROWSER with %s", "w3m -o x=1 %s", "linux", []string{"w3m", "-o", "x=1", u}},
		{"BROWSER list: the first", "lynx:firefox", "darwin", []string{"lynx", u}},
		{"BROWSER list with an empty first", ":firefox", "linux", []string{"firefox", u}},
		{"BROWSER only separators", " : ", "linux", []string{"xdg-open", u}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := browserCommand(u, tc.browser, tc.goos); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLocalURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/",
		"[::]:8080":      "http://127.0.0.1:8080/",
		"[::1]:8080":     "http://[::1]:8080/",
		":8080":          "http://127.0.0.1:8080/",
	} {
		if got := localURL(addr); got != want {
			t.Errorf("localURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestOpenBrowser runs openBrowser with $BROWSER set to a script that
// records its arguments, and with a browser that does not exist.
func TestOpenBrowser(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "url")
	stub := filepath.Join(dir, "browser")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + got + ".tmp' && mv '" + got + ".tmp' '" + got + "'\n"
	if err := os.WriteFile(stub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("BROWSER gets the URL", func(t *testing.T) {
		t.Setenv("BROWSER", stub)
		ios, _, _, errOut := iostreams.Test()
		openBrowser(ios, "http://127.0.0.1:9/")
		waitFor(t, "the browser stub to record its arguments", func() bool {
			_, err := os.Stat(got)
			return err == nil
		})
		b, _ := os.ReadFile(got)
		if string(b) != "http://127.0.0.1:9/\n" {
			t.Fatalf("browser got arguments %q", b)
		}
		if !strings.Contains(errOut.String(), "opening http://127.0.0.1:9/") {
			t.Fatalf("stderr %q", errOut.String())
		}
	})
	t.Run("a browser that cannot start is reported", func(t *testing.T) {
		t.Setenv("BROWSER", filepath.Join(dir, "no-such-browser"))
		ios, _, _, errOut := iostreams.Test()
		openBrowser(ios, "http://127.0.0.1:9/")
		if !strings.Contains(errOut.String(), "could not open a browser") || !strings.Contains(errOut.String(), "browse http://127.0.0.1:9/") {
			t.Fatalf("stderr %q", errOut.String())
		}
	})
}
