package httpproxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/onepam/onepam/recordfmt/har/hartest"
)

// TestCurl drives the proxy with the real curl.
func TestCurl(t *testing.T) {
	curl := hartest.RequirePeer(t, "curl")
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base"})
	dir := t.TempDir()
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.Command(curl, append([]string{"-sS", "--fail-with-body", "--max-time", "60"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Run("GET", func(t *testing.T) {
		if out := run(t, r.url+"/hello"); out != "hello from upstream\n" {
			t.Fatalf("%q", out)
		}
	})
	t.Run("POST JSON", func(t *testing.T) {
		run(t, "-H", "Content-Type: application/json", "--data", `{"token":"curl-tok-1","n":1}`, r.url+"/echo")
		if s := getSeen(); s.Body != `{"token":"curl-tok-1","n":1}` || s.User != "ann" {
			t.Fatalf("upstream saw %+v", s)
		}
	})
	t.Run("POST form", func(t *testing.T) {
		run(t, "--data-urlencode", "password=curl-pw-2", "--data-urlencode", "user=ann", r.url+"/echo")
		if s := getSeen(); s.Body != "password=curl-pw-2&user=ann" {
			t.Fatalf("upstream saw %+v", s)
		}
	})
	t.Run("redirect and cookie jar", func(t *testing.T) {
		jar := filepath.Join(dir, "jar")
		out := run(t, "-L", "-c", jar, "-b", jar, r.url+"/login")
		if out != "cookie ok: "+sum([]byte("srv-cookie-secret")) {
			t.Fatalf("%q", out)
		}
	})
	t.Run("10 MiB download", func(t *testing.T) {
		f := filepath.Join(dir, "big")
		run(t, "-o", f, r.url+"/big?n=10485760")
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := pattern(io.Discard, 10<<20)
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != want {
			t.Fatalf("checksum of %d bytes differs", len(b))
		}
	})
	t.Run("10 MiB upload", func(t *testing.T) {
		f := filepath.Join(dir, "up")
		fh, _ := os.Create(f)
		want, _ := pattern(fh, 10<<20)
		fh.Close()
		run(t, "-T", f, r.url+"/echo")
		if s := getSeen(); s.BodySHA != want || s.BodyLen != 10<<20 || s.Method != "PUT" {
			t.Fatalf("upstream got %d bytes via %s", s.BodyLen, s.Method)
		}
	})
	es := r.waitEntries(7)
	if es[6].Request.Method != "PUT" || es[6].Request.BodySize != 10<<20 {
		t.Fatalf("upload entry %s %d", es[6].Request.Method, es[6].Request.BodySize)
	}
	stored := r.rec.Bytes()
	for _, secret := range []string{"curl-tok-1", "curl-pw-2", "srv-cookie-secret"} {
		if bytes.Contains(stored, []byte(secret)) {
			t.Errorf("%s in the recording", secret)
		}
	}
	r.export()
}
