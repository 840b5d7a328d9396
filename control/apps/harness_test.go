package apps_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control"
	"github.com/onepam/onepam/control/apps"
	"github.com/onepam/onepam/control/controltest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/devapp"
	"github.com/onepam/onepam/pkg/client"
)

// upstream is the web application behind resource "web": a page, the user
// header the agent sent, a form post, a JSON API, a cookie, a redirect,
// a download and a WebSocket echo.
func upstream() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>upstream</title><h1>Hello from the upstream</h1>")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Join(r.Header.Values("X-OnePAM-User"), ","))
	})
	mux.HandleFunc("GET /cookies", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Cookie"))
	})
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "from-upstream", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "onepam_app", Value: "hijack", Path: "/"})
		fmt.Fprintf(w, "got %s", r.PostFormValue("message"))
	})
	mux.HandleFunc("GET /go", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/whoami", http.StatusFound)
	})
	mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "8388608")
		_, _ = w.Write(make([]byte, 8<<20))
	})
	mux.HandleFunc("GET /ws", devapp.WebSocketEcho(32768))
	return mux
}

// env is a control server (apps domain localhost) and an agent serving
// resource "web" (the upstream) and "echo" (tcp), in process.
type env struct {
	srv    *control.Server
	port   string
	admin  *client.Client
	pool   *x509.CertPool
	apiURL string
}

func startEnv(t *testing.T, idle time.Duration) *env {
	t.Helper()
	up := httptest.NewServer(upstream())
	t.Cleanup(up.Close)
	web, err := agent.ParseResourceURL("web", up.URL)
	if err != nil {
		t.Fatal(err)
	}
	echo, err := agent.ParseResourceURL("echo", "tcp://127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	ce := controltest.Start(t, controltest.Options{
		Config:    control.Config{AppIdleTimeout: idle},
		AgentName: "apps-agent",
		Resources: []agent.ResourceConfig{web, echo},
	})
	_, port, _ := net.SplitHostPort(ce.Server.APIAddr().String())
	return &env{srv: ce.Server, port: port, admin: ce.Admin, pool: ce.Pool, apiURL: ce.URL}
}

var waitFor = controltest.WaitFor

// browser is an HTTP client with a cookie jar that reaches every
// *.localhost and localhost name at control's port, verifying control's
// certificate for the name asked, and does not follow redirects.
type browser struct {
	t    *testing.T
	e    *env
	hc   *http.Client
	jar  *cookiejar.Jar
	user string
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	addr := e.srv.APIAddr().String()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: e.pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, e: e, jar: jar, hc: &http.Client{Jar: jar, Transport: tr, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (e *env) console() string { return "https://localhost:" + e.port }

func (e *env) app(name string) string { return "https://" + name + ".localhost:" + e.port }

type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *browser) do(method, u string, body io.Reader, hdr map[string]string) response {
	b.t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read the body: %v", method, u, err)
	}
	return response{status: resp.StatusCode, body: string(data), location: resp.Header.Get("Location"), header: resp.Header}
}

func (b *browser) get(u string) response { return b.do(http.MethodGet, u, nil, nil) }

// loginConsole logs the browser in to the console with token.
func (b *browser) loginConsole(token string) {
	b.t.Helper()
	r := b.do(http.MethodPost, b.e.console()+"/web/login", strings.NewReader(fmt.Sprintf(`{"token":%q}`, token)), map[string]string{"Content-Type": "application/json"})
	if r.status != http.StatusOK {
		b.t.Fatalf("console login: %d %s", r.status, r.body)
	}
}

func (b *browser) cookie(host, name string) string {
	for _, c := range b.jar.Cookies(&url.URL{Scheme: "https", Host: host}) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// launch asks the console for a launch URL for app with state.
func (b *browser) launch(app, state string) response {
	return b.do(http.MethodPost, b.e.console()+"/v1/apps/"+app+"/launch", strings.NewReader(fmt.Sprintf(`{"state":%q}`, state)),
		map[string]string{"Content-Type": "application/json", "X-CSRF-Token": b.cookie("localhost", "onepam_csrf")})
}

// open visits path of app, going through the console's login (the
// browser must be logged in to the console), and returns the final
// answer.
func (b *browser) open(app, path string) response {
	b.t.Helper()
	r := b.get(b.e.app(app) + path)
	if r.status != http.StatusFound {
		return r
	}
	loc, err := url.Parse(r.location)
	if err != nil || loc.Host != "localhost:"+b.e.port || loc.Path != "/login" || loc.Query().Get("app") != app {
		b.t.Fatalf("GET %s: redirected to %q, want the console's login page for %s", path, r.location, app)
	}
	l := b.launch(app, loc.Query().Get("state"))
	if l.status != http.StatusOK {
		b.t.Fatalf("launch %s: %d %s", app, l.status, l.body)
	}
	var lr apps.LaunchResponse
	if err := json.Unmarshal([]byte(l.body), &lr); err != nil {
		b.t.Fatal(err)
	}
	if !strings.HasPrefix(lr.URL, b.e.app(app)+"/_onepam/callback?code=") {
		b.t.Fatalf("launch URL %q", lr.URL)
	}
	cb := b.get(lr.URL)
	if cb.status != http.StatusSeeOther || cb.location != path {
		b.t.Fatalf("callback: %d to %q, want 303 to %q: %s", cb.status, cb.location, path, cb.body)
	}
	return b.get(b.e.app(app) + path)
}

// appSessions lists the http sessions of resource web.
func (e *env) appSessions(t *testing.T, status ...api.SessionStatus) []api.Session {
	t.Helper()
	l, err := e.admin.ListSessions(context.Background(), client.SessionQuery{Resource: "web", Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return l.Sessions
}
