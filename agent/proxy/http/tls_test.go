package httpproxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func newTLSUpstream(t *testing.T) (*httptest.Server, string) {
	srv := httptest.NewUnstartedServer(upstreamMux(t))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func TestTLSUpstream(t *testing.T) {
	up, ca := newTLSUpstream(t)
	pin := sha256.Sum256(up.Certificate().Raw)
	for _, tc := range []struct {
		name string
		tls  TLSConfig
		err  string
	}{
		{"test CA", TLSConfig{CAFile: ca}, ""},
		{"pinned certificate", TLSConfig{PinSHA256: "sha256:" + hex.EncodeToString(pin[:])}, ""},
		{"wrong pin", TLSConfig{PinSHA256: strings.Repeat("ab", 32)}, "does not match the pinned"},
		{"system roots do not know the test CA", TLSConfig{}, "certificate"},
		{"wrong server name", TLSConfig{CAFile: ca, ServerName: "other.test"}, "other.test"},
		{"insecure", TLSConfig{InsecureSkipVerify: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &TargetConfig{Scheme: "https", BasePath: "/base", TLS: tc.tls}
			if tc.err != "" {
				_, err := New(Config{}).Open(context.Background(), testInfo(hostOf(up), cfg))
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("open: %v, want an error with %q", err, tc.err)
				}
				return
			}
			r := newRig(t, hostOf(up), cfg)
			for range 2 {
				resp, err := client().Get(r.url + "/hello")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "hello from upstream\n" {
					t.Fatalf("body %q", b)
				}
			}
			es := r.waitEntries(2)
			// Each request came on its own person connection: entries are
			// written as exchanges end, so order them by start.
			sort.Slice(es, func(i, j int) bool { return es[i].T < es[j].T })
			if es[0].Response.HTTPVersion != "HTTP/2.0" || es[0].Request.URL != up.URL+"/base/hello" {
				t.Fatalf("entry %s %s", es[0].Response.HTTPVersion, es[0].Request.URL)
			}
			if es[0].Timings.SSL <= 0 || es[0].Timings.Connect < es[0].Timings.SSL || es[1].Timings.SSL != -1 {
				t.Fatalf("timings of a new then a reused TLS connection: %+v / %+v", es[0].Timings, es[1].Timings)
			}
			r.export()
		})
	}
}
