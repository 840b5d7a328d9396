package auth

import (
	"net/http"
	"strings"

	"github.com/onepam/onepam/pkg/api"
)

// ErrorWriter writes an error answer; the API package supplies its JSON
// helper so that every error has the same shape.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Middleware resolves the caller to a Principal in the request context, or
// answers 401 (403 for a missing CSRF token) through writeErr. The caller
// is named by "Authorization: Bearer <token>" or, without that header, by
// the web console's session cookie (CookieSession); a cookie-authenticated
// request that changes state must carry the CSRF token (CheckCSRF).
func (t *Tokens) Middleware(writeErr ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			c, err := r.Cookie(CookieSession)
			if err != nil || c.Value == "" {
				writeErr(w, r, api.Errorf(api.CodeUnauthenticated, "not logged in: send Authorization: Bearer TOKEN (run onepam login --control URL --token TOKEN)"))
				return
			}
			ws, err := t.WebSession(r.Context(), c.Value)
			if err != nil {
				writeErr(w, r, err)
				return
			}
			if err := CheckCSRF(r, ws); err != nil {
				writeErr(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), ws.Principal)))
			return
		}
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			writeErr(w, r, api.Errorf(api.CodeUnauthenticated, "malformed Authorization header: want Bearer TOKEN"))
			return
		}
		p, err := t.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			writeErr(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}
