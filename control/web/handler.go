package web

import (
	"net/http"
	"strings"
)

// Handler returns control's whole HTTP handler: the API (Config.API) for
// /v1/, /healthz and /metrics, and the console for everything else. It
// panics on a Config without API or Auth (a programming error).
func Handler(cfg Config) http.Handler { return newHandler(cfg, loadAssets()) }

func newHandler(cfg Config, a *assets) http.Handler {
	cfg, err := cfg.withDefaults()
	if err != nil {
		panic(err)
	}
	h := &handler{cfg: cfg, assets: a, limiter: &failLimiter{max: cfg.LoginFailures, window: cfg.LoginWindow, now: cfg.Clock}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /web/login", h.login)
	mux.HandleFunc("POST /web/logout", h.logout)
	mux.HandleFunc("GET /assets/", h.asset)
	mux.HandleFunc("GET /", h.page)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPIPath(r.URL.Path) {
			cfg.API.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/web/") && r.URL.Path != "/web/login" && r.URL.Path != "/web/logout" {
			writeError(w, http.StatusNotFound, "not_found", "no console route "+r.Method+" "+r.URL.Path)
			return
		}
		securityHeaders(w.Header())
		mux.ServeHTTP(w, r)
	})
}

type handler struct {
	cfg     Config
	assets  *assets
	limiter *failLimiter // failed logins per client IP
}

// isAPIPath reports whether a path belongs to the API handler.
func isAPIPath(p string) bool {
	return strings.HasPrefix(p, "/v1/") || p == "/v1" || p == "/healthz" || p == "/metrics"
}

// contentSecurityPolicy allows only the console's own scripts and styles
// (inline style attributes are set by the asciicast player; WebAssembly
// compilation is used by it too).
const contentSecurityPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; font-src 'self' data:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}
