package debugpprof

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	t.Run("off without the variable", func(t *testing.T) {
		t.Setenv(Env, "")
		stop, err := Start("test", nil)
		if err != nil {
			t.Fatal(err)
		}
		stop()
	})
	t.Run("serves the profiles and writes the address file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "addrs")
		t.Setenv(Env, "127.0.0.1:0")
		t.Setenv(AddrFileEnv, file)
		stop, err := Start("test", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(string(b))
		if len(f) != 3 || f[0] != "test" {
			t.Fatalf("address file %q: want \"test <pid> <addr>\"", b)
		}
		resp, err := http.Get("http://" + f[2] + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
			t.Fatalf("status %d, body %.200s", resp.StatusCode, body)
		}
	})
	t.Run("bad address is an error", func(t *testing.T) {
		t.Setenv(Env, "not an address")
		if _, err := Start("test", nil); err == nil {
			t.Fatal("no error")
		}
	})
}
