package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

// fixture is a console handler over a real token service: the API is the
// real auth middleware in front of a handler that names the principal.
type fixture struct {
	srv   *httptest.Server
	token string
}

func newFixture(t *testing.T, a *assets) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateUser(ctx, api.User{Name: "alice", Role: api.RoleAdmin, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(st, nil, nil)
	tok, err := tokens.Create(ctx, "alice", time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	writeErr := func(w http.ResponseWriter, _ *http.Request, err error) { writeAPIError(w, err) }
	apiH := http.NewServeMux()
	apiH.Handle("/v1/", tokens.Middleware(writeErr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		_, _ = w.Write([]byte("api " + r.Method + " " + r.URL.Path + " as " + p.User))
	})))
	apiH.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("healthy")) })
	srv := httptest.NewTLSServer(newHandler(Config{API: apiH, Auth: tokens}, a))
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, token: tok.Secret}
}

func (f *fixture) do(t *testing.T, method, path, body string, hdr map[string]string, cookies []*http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

var builtFS = fstest.MapFS{
	"dist/index.html":       {Data: []byte("<!doctype html><title>OnePAM</title><script src=/assets/app-X.js></script>")},
	"dist/assets/app-X.js":  {Data: []byte("console.log(1)")},
	"dist/assets/app-X.css": {Data: []byte("body{}")},
	"dist/README.txt":       {Data: []byte("how to build")},
}

func TestStatic(t *testing.T) {
	built := newFixture(t, newAssets(builtFS, "dist"))
	bare := newFixture(t, newAssets(fstest.MapFS{"dist/README.txt": {Data: []byte("x")}}, "dist"))
	tests := []struct {
		name       string
		f          *fixture
		path       string
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"index", built, "/", 200, "text/html", "<title>OnePAM</title>"},
		{"console route", built, "/sessions/0190c0de-0000-7000-8000-000000000000", 200, "text/html", "<title>OnePAM</title>"},
		{"script", built, "/assets/app-X.js", 200, "text/javascript", "console.log"},
		{"style", built, "/assets/app-X.css", 200, "text/css", "body{}"},
		{"missing asset", built, "/assets/nope.js", 404, "", ""},
		{"healthz goes to the API", built, "/healthz", 200, "", "healthy"},
		{"API without auth", built, "/v1/whoami", 401, "application/json", "not logged in"},
		{"unknown /web route", built, "/web/nope", 404, "application/json", "no console route"},
		{"not built", bare, "/sessions", 503, "text/html", "console assets not built: run ./scripts/web-build"},
		{"not built still serves the API", bare, "/healthz", 200, "", "healthy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.f.do(t, "GET", tc.path, "", nil, nil)
			body := readAll(t, resp)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantBody) || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.wantType) {
				t.Fatalf("GET %s: %d %q %q, want %d %q containing %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.wantStatus, tc.wantType, tc.wantBody)
			}
		})
	}
	t.Run("console pages carry a CSP", func(t *testing.T) {
		resp := built.do(t, "GET", "/", "", nil, nil)
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("CSP %q", csp)
		}
	})
}

func TestLoginLogout(t *testing.T) {
	f := newFixture(t, newAssets(builtFS, "dist"))
	jsonHdr := map[string]string{"Content-Type": "application/json"}

	t.Run("refused logins", func(t *testing.T) {
		tests := []struct {
			name, body string
			hdr        map[string]string
			wantStatus int
			wantBody   string
		}{
			{"wrong token", `{"token":"opt_nope"}`, jsonHdr, 401, "unknown token"},
			{"not a token", `{"token":"hello"}`, jsonHdr, 401, "malformed token"},
			{"empty", `{}`, jsonHdr, 400, "want a JSON body"},
			{"hostile JSON", `{"token":`, jsonHdr, 400, "want a JSON body"},
			{"unknown field", `{"token":"x","password":"y"}`, jsonHdr, 400, "want a JSON body"},
			{"form post", "token=" + f.token, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp := f.do(t, "POST", "/web/login", tc.body, tc.hdr, nil)
				body := readAll(t, resp)
				if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantBody) || len(resp.Cookies()) != 0 {
					t.Fatalf("%d %s cookies %v, want %d containing %q and no cookie", resp.StatusCode, body, resp.Cookies(), tc.wantStatus, tc.wantBody)
				}
			})
		}
	})

	resp := f.do(t, "POST", "/web/login", `{"token":"`+f.token+`"}`, jsonHdr, nil)
	var lr LoginResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	if lr.User != "alice" || lr.Role != api.RoleAdmin || lr.CSRFToken == "" {
		t.Fatalf("login answer %+v", lr)
	}
	cookies := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		cookies[c.Name] = c
	}
	sess, csrf := cookies[auth.CookieSession], cookies[auth.CookieCSRF]
	if sess == nil || csrf == nil {
		t.Fatalf("cookies %v", resp.Cookies())
	}
	if !sess.HttpOnly || !sess.Secure || sess.SameSite != http.SameSiteStrictMode || sess.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/", sess)
	}
	if csrf.HttpOnly || !csrf.Secure || csrf.SameSite != http.SameSiteStrictMode || csrf.Value != lr.CSRFToken {
		t.Fatalf("csrf cookie %+v: want readable, Secure, SameSite=Strict, the answer's token", csrf)
	}
	both := []*http.Cookie{{Name: sess.Name, Value: sess.Value}, {Name: csrf.Name, Value: csrf.Value}}

	t.Run("API with the cookie", func(t *testing.T) {
		tests := []struct {
			name, method string
			hdr          map[string]string
			wantStatus   int
			wantBody     string
		}{
			{"read", "GET", nil, 200, "api GET /v1/sessions as alice"},
			{"change with CSRF header", "POST", map[string]string{auth.HeaderCSRF: lr.CSRFToken}, 200, "api POST /v1/sessions as alice"},
			{"change without CSRF header", "POST", nil, 403, "X-CSRF-Token"},
			{"change with a wrong CSRF header", "POST", map[string]string{auth.HeaderCSRF: "forged"}, 403, "X-CSRF-Token"},
			{"bearer needs no CSRF", "POST", map[string]string{"Authorization": "Bearer " + f.token}, 200, "as alice"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var cs []*http.Cookie
				if tc.hdr["Authorization"] == "" {
					cs = both
				}
				resp := f.do(t, tc.method, "/v1/sessions", "", tc.hdr, cs)
				body := readAll(t, resp)
				if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
					t.Fatalf("%d %s, want %d containing %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
				}
			})
		}
	})

	t.Run("logout needs the CSRF token", func(t *testing.T) {
		resp := f.do(t, "POST", "/web/logout", "", nil, both)
		if resp.StatusCode != 403 {
			t.Fatalf("logout without CSRF: %d %s", resp.StatusCode, readAll(t, resp))
		}
		resp = f.do(t, "GET", "/v1/sessions", "", nil, both)
		if resp.StatusCode != 200 {
			t.Fatalf("session ended by a logout without CSRF: %d", resp.StatusCode)
		}
	})
	t.Run("logout", func(t *testing.T) {
		resp := f.do(t, "POST", "/web/logout", "", map[string]string{auth.HeaderCSRF: lr.CSRFToken}, both)
		if resp.StatusCode != 204 {
			t.Fatalf("logout: %d %s", resp.StatusCode, readAll(t, resp))
		}
		cleared := 0
		for _, c := range resp.Cookies() {
			if c.MaxAge < 0 {
				cleared++
			}
		}
		if cleared != 2 {
			t.Fatalf("logout cleared %d cookies: %v", cleared, resp.Cookies())
		}
		resp = f.do(t, "GET", "/v1/sessions", "", nil, both)
		if body := readAll(t, resp); resp.StatusCode != 401 || !strings.Contains(body, "log in again") {
			t.Fatalf("after logout: %d %s", resp.StatusCode, body)
		}
	})
}
