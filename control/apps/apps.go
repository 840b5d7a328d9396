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
	logins map[string]*appLogin // SHA-256 of the app cookie → login (a cache of the store's rows, with their sessions)
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
	a := &Apps{cfg: cfg, launch: http.NewServeMux(), logins: map[string]*appLogin{}, stop: make(chan struct{})}
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

// sweepLoop ends idle sessions, deletes expired codes and logins from the
// store and drops expired or unused logins from the table.
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if _, err := a.cfg.Store.DeleteExpiredAppLogins(ctx, now.UTC()); err != nil {
		a.cfg.Logger.Warn("delete expired app logins and codes", "err", err)
	}
	cancel()
	a.mu.Lock()
	var expired, all []*appLogin
	for id, l := range a.logins {
		if !now.Before(l.expires) {
			delete(a.logins, id)
			expired = append(expired, l)
			continue
		}
		if now.Sub(l.fetched) >= loginCacheTTL && l.current() == nil {
			// Not used here lately and no session running: the row
			// in the store is the login; read it again when used.
			delete(a.logins, id)
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
