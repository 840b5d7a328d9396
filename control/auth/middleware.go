package auth

import (
	"net/http"
	"strings"

	"github.com/onepam/onepam/pkg/api"
)

// ErrorWriter writes an error answer; the API package supplies its JSON
// helper so that every error has the same shape.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Middleware resolves "Authorization: Bearer <token>" to a Principal in the
// request context, or answers 401 through writeErr.
func (t *Tokens) Middleware(writeErr ErrorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, secret, ok := strings.Cut(h, " ")
		if h == "" {
			writeErr(w, r, api.Errorf(api.CodeUnauthenticated, "not logged in: send Authorization: Bearer TOKEN (run onepam login --control URL --token TOKEN)"))
			return
		}
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
