package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

// LoginRequest is the body of POST /web/login.
// It holds either a token or a user name and password.
type LoginRequest struct {
	Token    string `json:"token,omitempty"`    // an API token, "opt_…"
	User     string `json:"user,omitempty"`     // a user name (with Password)
	Password string `json:"password,omitempty"` // the user's console password (onepam users passwd)
}

// valid reports whether the request holds exactly one kind of credential.
func (req LoginRequest) valid() bool {
	if req.Token != "" {
		return req.User == "" && req.Password == ""
	}
	return req.User != ""
}

// LoginResponse answers a successful login.
type LoginResponse struct {
	User      string   `json:"user"`
	Role      api.Role `json:"role"`
	CSRFToken string   `json:"csrf_token"` // also in the onepam_csrf cookie
}

// maxLoginBody bounds the login request body.
const maxLoginBody = 4 << 10

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: &api.Error{Code: api.ErrorCode(code), Message: msg}})
}

func writeAPIError(w http.ResponseWriter, err error) {
	code := api.CodeOf(err)
	msg := err.Error()
	if code == api.CodeInternal {
		msg = "internal error"
	}
	writeError(w, code.HTTPStatus(), string(code), msg)
}

// login exchanges an API token for a web session. Only JSON bodies are
// accepted: a cross-site form cannot send one without a CORS preflight.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, string(api.CodeInvalid), "send the login as application/json: {\"token\": \"opt_…\"}")
		return
	}
	var req LoginRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxLoginBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || !req.valid() {
		writeError(w, http.StatusBadRequest, string(api.CodeInvalid), "want a JSON body {\"token\": \"opt_…\"} or {\"user\": \"…\", \"password\": \"…\"}")
		return
	}
	ip := clientIP(r)
	if wait := h.limiter.retryAfter(ip); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many failed logins from this address: try again later")
		return
	}
	ws, err := h.authenticate(r, req)
	if err != nil {
		h.loginFailed(r, req, ip, err)
		writeAPIError(w, err)
		return
	}
	h.limiter.succeed(ip)
	h.loginSucceeded(r, req, ip, ws)
	h.setCookies(w, ws.ID, ws.CSRF, ws.ExpiresAt)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(LoginResponse{User: ws.Principal.User, Role: ws.Principal.Role, CSRFToken: ws.CSRF})
}

// logout ends the web session of the cookie; it needs the CSRF token.
func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(auth.CookieSession)
	if err != nil || c.Value == "" {
		h.clearCookies(w)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ws, err := h.cfg.Auth.WebSession(r.Context(), c.Value)
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Code == api.CodeUnauthenticated {
			h.clearCookies(w) // already gone
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeAPIError(w, err)
		return
	}
	if err := auth.CheckCSRF(r, ws); err != nil {
		writeAPIError(w, err)
		return
	}
	h.cfg.Auth.Logout(ws.ID)
	h.clearCookies(w)
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) setCookies(w http.ResponseWriter, id, csrf string, expires time.Time) {
	for _, c := range []*http.Cookie{
		{Name: auth.CookieSession, Value: id, HttpOnly: true},
		{Name: auth.CookieCSRF, Value: csrf},
	} {
		c.Path = "/"
		c.Secure = !h.cfg.Insecure
		c.SameSite = http.SameSiteStrictMode
		if !expires.IsZero() {
			c.Expires = expires
		}
		http.SetCookie(w, c)
	}
}

func (h *handler) clearCookies(w http.ResponseWriter) {
	for _, name := range []string{auth.CookieSession, auth.CookieCSRF} {
		http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, Secure: !h.cfg.Insecure, SameSite: http.SameSiteStrictMode, HttpOnly: name == auth.CookieSession})
	}
}
