package httpproxy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/onepam/onepam/pkg/cli/devapp"
)

// pattern writes n deterministic pseudo-random bytes.
func pattern(w io.Writer, n int64) (string, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := sha256.New()
	buf := make([]byte, 32<<10)
	for n > 0 {
		k := min(int64(len(buf)), n)
		for i := range buf[:k] {
			buf[i] = byte(rng.Uint32())
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return "", err
		}
		h.Write(buf[:k])
		n -= k
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// seen is what the upstream tells about a request it got.
type seen struct {
	Method       string `json:"method"`
	Path         string `json:"path"`
	Query        string `json:"query"`
	Host         string `json:"host"`
	User         string `json:"user"`
	Auth         string `json:"auth"`
	ForwardedFor string `json:"forwarded_for"`
	Cookie       string `json:"cookie"`
	Body         string `json:"body"`
	BodySHA      string `json:"body_sha256"`
	BodyLen      int64  `json:"body_len"`
	Proto        string `json:"proto"`
	AccessToken  string `json:"access_token"`
}

// lastSeen is what the upstream last got on /base/echo; it is kept on the
// server side (the answer carries no secret the request had).
var lastSeen struct {
	sync.Mutex
	s seen
}

func getSeen() seen {
	lastSeen.Lock()
	defer lastSeen.Unlock()
	return lastSeen.s
}

// upstreamMux is the application behind the proxy, mounted under /base.
func upstreamMux(t testing.TB) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/base/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "hello from upstream\n")
	})
	mux.HandleFunc("/base/echo", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		var body strings.Builder
		n, _ := io.Copy(io.MultiWriter(h, &limitedBuilder{&body, 4096}), r.Body)
		s := seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Host: r.Host, User: r.Header.Get("X-OnePAM-User"),
			Auth: r.Header.Get("Authorization"), ForwardedFor: r.Header.Get("X-Forwarded-For"), Cookie: r.Header.Get("Cookie"),
			Body: body.String(), BodySHA: hex.EncodeToString(h.Sum(nil)), BodyLen: n, Proto: r.Proto, AccessToken: "srv-access-token"}
		lastSeen.Lock()
		lastSeen.s = s
		lastSeen.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"body_sha256": s.BodySHA, "body_len": s.BodyLen, "access_token": "srv-access-token"})
	})
	mux.HandleFunc("/base/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		pattern(w, n)
	})
	mux.HandleFunc("/base/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := range 5 {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/base/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/base/hello?from=redirect", http.StatusFound)
	})
	mux.HandleFunc("/base/redirect-path", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/base/hello?from=path")
		w.WriteHeader(http.StatusSeeOther)
	})
	mux.HandleFunc("/base/outside", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "https://elsewhere.example/x")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/base/login", func(w http.ResponseWriter, r *http.Request) {
		host := strings.Split(r.Host, ":")[0]
		w.Header().Add("Set-Cookie", "sid=srv-cookie-secret; Path=/base; Domain="+host+"; HttpOnly")
		w.Header().Set("Location", "/base/whoami")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/base/whoami", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("sid")
		if err != nil {
			http.Error(w, "no session cookie", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "cookie ok: "+sum([]byte(c.Value)))
	})
	mux.HandleFunc("/base/ws", devapp.WebSocketEcho(1<<20))
	return mux
}

type limitedBuilder struct {
	b *strings.Builder
	n int
}

func (l *limitedBuilder) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func newUpstream(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(upstreamMux(t))
	t.Cleanup(srv.Close)
	return srv
}

func hostOf(srv *httptest.Server) string {
	return strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
}
