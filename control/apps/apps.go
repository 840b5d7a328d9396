package apps

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Apps serves the published apps (see the package comment).
type Apps struct {
	cfg    Config
	launch *http.ServeMux // routes on the control host

	mu     sync.Mutex
	codes  map[string]*grant    // launch code → grant
	logins map[string]*appLogin // app cookie value → login
	closed bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// New returns the apps and starts their idle sweeper. Call Close on
// shutdown.
func New(cfg Config) (*Apps, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Apps{cfg: cfg, launch: http.NewServeMux(), codes: map[string]*grant{}, logins: map[string]*appLogin{}, stop: make(chan struct{})}
	a.launch.HandleFunc("POST /v1/apps/{name}/launch", a.launchApp)
	a.wg.Add(1)
	go a.sweepLoop()
	return a, nil
}

// Domain is the apps domain in use.
func (a *Apps) Domain() string { return a.cfg.Domain }

// Wrap returns control's handler: requests for an app host go to the app,
// POST /v1/apps/{name}/launch (on the control host) issues launch codes,
// and everything else goes to next (the console and the API).
func (a *Apps) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := appName(r.Host, a.cfg.Domain); ok {
			a.serveApp(w, r, name)
			return
		}
		if _, pattern := a.launch.Handler(r); pattern != "" {
			a.launch.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Close ends every app session (completed) and stops the sweeper.
func (a *Apps) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	logins := make([]*appLogin, 0, len(a.logins))
	for _, l := range a.logins {
		logins = append(logins, l)
	}
	a.mu.Unlock()
	close(a.stop)
	a.wg.Wait()
	for _, l := range logins {
		l.endSession()
	}
}

func (a *Apps) now() time.Time { return a.cfg.Clock() }

// sweepLoop ends idle sessions and drops expired codes and logins.
func (a *Apps) sweepLoop() {
	defer a.wg.Done()
	every := min(max(a.cfg.IdleTimeout/4, 10*time.Millisecond), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.sweep()
		}
	}
}

// sweep runs one pass of sweepLoop at the clock's now.
func (a *Apps) sweep() {
	now := a.now()
	a.mu.Lock()
	for c, g := range a.codes {
		if !now.Before(g.expires) {
			delete(a.codes, c)
		}
	}
	var expired, all []*appLogin
	for id, l := range a.logins {
		if !now.Before(l.expires) {
			delete(a.logins, id)
			expired = append(expired, l)
			continue
		}
		all = append(all, l)
	}
	a.mu.Unlock()
	for _, l := range expired {
		l.endSession()
	}
	for _, l := range all {
		if s := l.current(); s != nil && s.idle(now, a.cfg.IdleTimeout) {
			a.cfg.Logger.Info("app session idle: ending it", "session_id", s.id, "app", l.app, "user", l.user, "idle_timeout", a.cfg.IdleTimeout)
			s.end()
		}
	}
}

func (a *Apps) audit(ctx context.Context, r *http.Request, actor, action, target, outcome, detail string, fields map[string]string) {
	e := api.AuditEvent{ID: store.NewID(), Time: a.now().UTC(), Actor: actor, Action: action, Target: target,
		Outcome: outcome, Detail: detail, ClientIP: clientIP(r), Fields: fields}
	if err := a.cfg.Store.AddAudit(context.WithoutCancel(ctx), e); err != nil {
		a.cfg.Logger.Error("write audit event", "action", action, "target", target, "err", err)
	}
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
