package cli

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestLaunchCommand(t *testing.T) {
	for _, tc := range []struct {
		goos string
		want []string
	}{
		{"linux", []string{"xfreerdp", "/v:127.0.0.1:4000", "/cert:ignore", "/u:onepam", "/p:onepam", "/t:onepam 127.0.0.1:4000"}},
		{"freebsd", []string{"xfreerdp", "/v:127.0.0.1:4000", "/cert:ignore", "/u:onepam", "/p:onepam", "/t:onepam 127.0.0.1:4000"}},
		{"windows", []string{"mstsc", "C:\\t\\onepam.rdp"}},
		{"darwin", []string{"open", "-W", "C:\\t\\onepam.rdp"}},
	} {
		t.Run(tc.goos, func(t *testing.T) {
			if got := launchCommand(tc.goos, "127.0.0.1:4000", `C:\t\onepam.rdp`); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%q, want %q", got, tc.want)
			}
			if usesRDPFile(tc.goos) != (tc.goos == "windows" || tc.goos == "darwin") {
				t.Fatalf("usesRDPFile(%s)", tc.goos)
			}
		})
	}
}

func TestRDPFileContent(t *testing.T) {
	c := rdpFileContent("127.0.0.1:4000")
	for _, line := range []string{"full address:s:127.0.0.1:4000\r\n", "enablecredsspsupport:i:0\r\n", "prompt for credentials:i:0\r\n", "authentication level:i:0\r\n"} {
		if !strings.Contains(c, line) {
			t.Errorf("the .rdp file lacks %q:\n%s", line, c)
		}
	}
	if strings.Contains(strings.ReplaceAll(c, "\r\n", ""), "\n") {
		t.Errorf("the .rdp file has lines not ended by CRLF:\n%q", c)
	}
}

func TestLaunchClient(t *testing.T) {
	t.Run("with a command", func(t *testing.T) {
		opts := &ConnectOptions{Command: []string{"x"}}
		if _, err := launchClient(opts, "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "either --launch or -- COMMAND") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("windows: an .rdp file for mstsc, removed by cleanup", func(t *testing.T) {
		opts := &ConnectOptions{}
		cleanup, err := launchClientFor(opts, "127.0.0.1:1", "windows")
		if err != nil {
			t.Fatal(err)
		}
		if len(opts.Command) != 2 || opts.Command[0] != "mstsc" {
			t.Fatalf("command %q", opts.Command)
		}
		b, err := os.ReadFile(opts.Command[1])
		if err != nil || string(b) != rdpFileContent("127.0.0.1:1") {
			t.Fatalf("the .rdp file: %q %v", b, err)
		}
		cleanup()
		if _, err := os.Stat(opts.Command[1]); err == nil {
			t.Fatal("the .rdp file outlives cleanup")
		}
	})
	t.Run("linux: xfreerdp, no file", func(t *testing.T) {
		opts := &ConnectOptions{}
		cleanup, err := launchClientFor(opts, "127.0.0.1:1", "linux")
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		if opts.Command[0] != "xfreerdp" || opts.Command[1] != "/v:127.0.0.1:1" {
			t.Fatalf("command %q", opts.Command)
		}
	})
}
