package apps

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Reserved paths on an app host (never forwarded to the upstream).
const (
	callbackPath = "/_onepam/callback"
	logoutPath   = "/_onepam/logout"
)

// LaunchRequest is the body of POST /v1/apps/{name}/launch (sent by the
// console with its cookie and CSRF token).
type LaunchRequest struct {
	// State is the state the app host put in the login URL (and in its
	// state cookie): 43 characters of base64url.
	State string `json:"state"`
}

// LaunchResponse answers a launch: where to send the browser.
type LaunchResponse struct {
	// URL is https://NAME.<apps domain>[:port]/_onepam/callback?code=CODE;
	// the code is one-time and lives one minute.
	URL string `json:"url"`
}

// randomToken returns 32 random bytes in base64url (43 characters).
func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// validToken reports whether s has randomToken's form.
func validToken(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// launchApp issues a launch code for the console's logged-in person.
func (a *Apps) launchApp(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(auth.CookieSession)
	if err != nil || ck.Value == "" {
		writeJSONError(w, api.Errorf(api.CodeUnauthenticated, "not logged in to the console: launching an app needs the console's login"))
		return
	}
	ws, err := a.cfg.Auth.WebSession(r.Context(), ck.Value)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	if err := auth.CheckCSRF(r, ws); err != nil {
		writeJSONError(w, err)
		return
	}
	var req LaunchRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || !validToken(req.State) {
		writeJSONError(w, api.Errorf(api.CodeInvalid, "want a JSON body {\"state\": \"…\"} with the state of the app's login URL"))
		return
	}
	name := r.PathValue("name")
	if err := a.checkPublished(r, name); err != nil {
		writeJSONError(w, err)
		return
	}
	code, err := randomToken()
	if err != nil {
		writeJSONError(w, err)
		return
	}
	c := store.AppCode{Hash: auth.HashSecret(code), App: name, State: req.State, WebSessionKey: ws.Key, User: ws.Principal.User, ExpiresAt: a.now().UTC().Add(codeTTL)}
	if err := a.cfg.Store.CreateAppCode(r.Context(), c); err != nil {
		writeJSONError(w, fmt.Errorf("store the launch code: %w", err))
		return
	}
	_, port := splitHost(r.Host)
	u := url.URL{Scheme: "https", Host: withPort(name+"."+a.cfg.Domain, port), Path: callbackPath, RawQuery: url.Values{"code": {code}}.Encode()}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(LaunchResponse{URL: u.String()})
}

// checkPublished returns a not_found *api.Error unless name is an http
// resource with an app host.
func (a *Apps) checkPublished(r *http.Request, name string) error {
	if !Publishable(name) {
		return api.Errorf(api.CodeNotFound, "%q is not a published app: app names are resource names that are one DNS label (a-z, 0-9, -)", name)
	}
	res, err := a.cfg.Store.GetResource(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return api.Errorf(api.CodeNotFound, "resource %q not found: list resources with onepam resources ls", name)
	}
	if err != nil {
		return fmt.Errorf("look up resource %q: %w", name, err)
	}
	if res.Type != api.TypeHTTP {
		return api.Errorf(api.CodeNotFound, "resource %q is a %s resource: only http resources are published as apps", name, res.Type)
	}
	return nil
}

func (a *Apps) stateCookie() string { return a.cfg.CookieName + "_state" }

// setCookie sets a host-only, Secure, HttpOnly, SameSite=Lax cookie on the
// app host (maxAge < 0 removes it).
func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// isNavigation reports whether r is a browser's top-level page load (or a
// client that does not say, like curl), as opposed to a script's fetch or
// an image.
func isNavigation(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	mode := r.Header.Get("Sec-Fetch-Mode")
	return mode == "" || mode == "navigate"
}

// redirectToLogin sends a browser without a login to the console's login
// page, remembering in the state cookie where it was going.
func (a *Apps) redirectToLogin(w http.ResponseWriter, r *http.Request, name string) {
	if !isNavigation(r) {
		a.page(w, http.StatusUnauthorized, pageData{Title: "Login required", Message: "Sign in to " + name + " to use it.", Link: "/", LinkText: "Sign in"})
		return
	}
	nonce := ""
	if ck, err := r.Cookie(a.stateCookie()); err == nil {
		if n, _, ok := parseState(ck.Value); ok {
			nonce = n // a login already in progress (another tab): keep it valid
		}
	}
	if nonce == "" {
		var err error
		if nonce, err = randomToken(); err != nil {
			a.page(w, http.StatusInternalServerError, pageData{Title: "Error", Message: err.Error()})
			return
		}
	}
	back := r.URL.RequestURI()
	if len(back) > 2048 || !safePath(back) {
		back = "/"
	}
	setCookie(w, a.stateCookie(), nonce+"."+base64.RawURLEncoding.EncodeToString([]byte(back)), int(stateTTL/time.Second))
	_, port := splitHost(r.Host)
	u := url.URL{Scheme: "https", Host: withPort(a.cfg.Domain, port), Path: "/login", RawQuery: url.Values{"app": {name}, "state": {nonce}}.Encode()}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// parseState splits a state cookie into its nonce and the path to go back
// to.
func parseState(v string) (nonce, back string, ok bool) {
	nonce, enc, found := strings.Cut(v, ".")
	if !found || !validToken(nonce) {
		return "", "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !safePath(string(b)) {
		return "", "", false
	}
	return nonce, string(b), true
}

// safePath reports whether p is a path on this host ("/x?y"), not a URL
// or a scheme-relative "//host" that a redirect would leave the host for.
func safePath(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "/\\") && !strings.ContainsAny(p, "\r\n")
}

// callback exchanges a launch code for the app cookie.
func (a *Apps) callback(w http.ResponseWriter, r *http.Request, name string) {
	bad := func(why string) {
		// The state cookie stays: the browser's own sign-in may still
		// arrive.
		a.cfg.Logger.Info("app login refused", "app", name, "reason", why, "client_ip", clientIP(r))
		a.page(w, http.StatusBadRequest, pageData{Title: "Sign-in link not valid", Message: "This sign-in link is " + why + ". Open the app again to sign in.", Link: "/", LinkText: "Open " + name})
	}
	if r.Method != http.MethodGet {
		bad("not a GET request")
		return
	}
	code := r.URL.Query().Get("code")
	if !validToken(code) {
		bad("unknown, already used or expired")
		return
	}
	// Taken from the store at once: the code is used once, whatever the
	// node the browser reaches.
	g, err := a.cfg.Store.TakeAppCode(r.Context(), auth.HashSecret(code), a.now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		bad("unknown, already used or expired")
		return
	}
	if err != nil {
		a.cfg.Logger.Error("take app launch code", "app", name, "err", err)
		a.page(w, http.StatusInternalServerError, pageData{Title: "Error", Message: "internal error: " + err.Error()})
		return
	}
	if g.App != name {
		bad("for another app")
		return
	}
	ck, err := r.Cookie(a.stateCookie())
	if err != nil {
		bad("not for this browser (no login was started here)")
		return
	}
	nonce, back, ok := parseState(ck.Value)
	if !ok || subtle.ConstantTimeCompare([]byte(nonce), []byte(g.State)) != 1 {
		bad("not for this browser (its state does not match)")
		return
	}
	id, err := randomToken()
	if err != nil {
		a.page(w, http.StatusInternalServerError, pageData{Title: "Error", Message: err.Error()})
		return
	}
	now := a.now().UTC()
	row := store.AppLogin{Key: auth.HashSecret(id), App: name, WebSessionKey: g.WebSessionKey, User: g.User, CreatedAt: now, ExpiresAt: now.Add(a.cfg.LoginTTL)}
	if err := a.cfg.Store.CreateAppLogin(r.Context(), row); err != nil {
		a.cfg.Logger.Error("store app login", "app", name, "err", err)
		a.page(w, http.StatusInternalServerError, pageData{Title: "Error", Message: "internal error: " + err.Error()})
		return
	}
	a.mu.Lock()
	a.keepLoginLocked(row, now)
	a.mu.Unlock()
	setCookie(w, a.stateCookie(), "", -1)
	setCookie(w, a.cfg.CookieName, id, int(a.cfg.LoginTTL/time.Second))
	a.audit(r.Context(), r, g.User, "app.login", name, api.OutcomeSuccess, "", nil)
	a.cfg.Logger.Info("app login", "app", name, "user", g.User)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (a *Apps) dropOldestLoginLocked() {
	var oldest *appLogin
	for _, l := range a.logins {
		if oldest == nil || l.expires.Before(oldest.expires) {
			oldest = l
		}
	}
	if oldest != nil {
		delete(a.logins, oldest.key)
		go oldest.endSession()
	}
}

// keepLoginLocked returns the table's login of row, adding it (read or
// written at now) when the table has none.
func (a *Apps) keepLoginLocked(row store.AppLogin, now time.Time) *appLogin {
	k := string(row.Key)
	if l := a.logins[k]; l != nil {
		l.fetched = now
		return l
	}
	if len(a.logins) >= maxLogins {
		a.dropOldestLoginLocked()
	}
	l := &appLogin{a: a, key: k, app: row.App, webSessionKey: row.WebSessionKey, user: row.User, expires: row.ExpiresAt, fetched: now}
	a.logins[k] = l
	return l
}

// loginOf returns the login of r's app cookie for app name, or nil. The
// table's copy serves for loginCacheTTL after it was read; then the store
// is asked again, so a logout on another node ends the login here within
// that bound. A login whose session an administrator killed stays in the
// table (its row is gone) until its terminated page is shown.
func (a *Apps) loginOf(r *http.Request, name string) (*appLogin, error) {
	ck, err := r.Cookie(a.cfg.CookieName)
	if err != nil || !validToken(ck.Value) {
		return nil, nil
	}
	key := auth.HashSecret(ck.Value)
	now := a.now()
	valid := func(l *appLogin) *appLogin {
		if l == nil || l.app != name || !now.Before(l.expires) {
			return nil
		}
		return l
	}
	a.mu.Lock()
	l := a.logins[string(key)]
	if l != nil && (now.Sub(l.fetched) < loginCacheTTL && !now.Before(l.fetched) || l.terminatedMessage() != "") {
		a.mu.Unlock()
		return valid(l), nil
	}
	a.mu.Unlock()
	row, err := a.cfg.Store.GetAppLogin(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		if l != nil {
			// Logged out (or ended) on another node.
			a.mu.Lock()
			if a.logins[l.key] == l {
				delete(a.logins, l.key)
			}
			a.mu.Unlock()
			l.endSession()
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	l = a.keepLoginLocked(row, now)
	a.mu.Unlock()
	return valid(l), nil
}

// forget removes a login from the table and the store, and ends its
// session.
func (a *Apps) forget(ctx context.Context, l *appLogin) {
	a.mu.Lock()
	if a.logins[l.key] == l {
		delete(a.logins, l.key)
	}
	a.mu.Unlock()
	if err := a.cfg.Store.DeleteAppLogin(context.WithoutCancel(ctx), []byte(l.key)); err != nil {
		a.cfg.Logger.Error("delete app login", "app", l.app, "user", l.user, "err", err)
	}
	l.endSession()
}

// logout ends the app login (GET shows a confirmation form: a link alone
// cannot log a person out).
func (a *Apps) logout(w http.ResponseWriter, r *http.Request, name string) {
	if r.Method != http.MethodPost {
		a.page(w, http.StatusOK, pageData{Title: "Log out of " + name, Message: "End your session of " + name + "?", Form: logoutPath, FormButton: "Log out"})
		return
	}
	if l, _ := a.loginOf(r, name); l != nil {
		a.forget(r.Context(), l)
		a.audit(r.Context(), r, l.user, "app.logout", name, api.OutcomeSuccess, "", nil)
		a.cfg.Logger.Info("app logout", "app", name, "user", l.user)
	}
	setCookie(w, a.cfg.CookieName, "", -1)
	a.page(w, http.StatusOK, pageData{Title: "Logged out", Message: "You are logged out of " + name + ".", Link: "/", LinkText: "Sign in again"})
}

// writeJSONError answers err as the API does: {"error": {"code", "message"}}.
func writeJSONError(w http.ResponseWriter, err error) {
	code := api.CodeOf(err)
	msg := err.Error()
	if code == api.CodeInternal {
		msg = "internal error: " + msg
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code.HTTPStatus())
	_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: &api.Error{Code: code, Message: msg}})
}
