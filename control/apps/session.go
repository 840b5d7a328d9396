package apps

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

// appLogin is one browser's login to one app (the value of its app
// cookie), with the session it currently uses.
type appLogin struct {
	a             *Apps
	key           string // the SHA-256 of the app cookie (the store's key), as a string
	app, user     string
	webSessionKey []byte // the Key of the console's web session it was made from
	expires       time.Time
	startMu       sync.Mutex // serialises starting a session
	fetched       time.Time  // when the row was last read from (or written to) the store; guarded by a.mu

	mu         sync.Mutex
	sess       *appSession // the current session; nil before the first request
	terminated string      // set when an administrator killed its session: the login is dead
}

// appSession is a running session of an app login: its lead (the events
// channel, held in an in-memory pipe) and the HTTP transport whose
// connections are data connections of the session.
type appSession struct {
	id        string
	login     *appLogin
	p         auth.Principal
	clientIP  string
	lead      net.Conn // our end of the events channel; closing it completes the session
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	done      chan struct{} // closed when the session ended
	final     api.SessionEvent

	// guarded by login.mu
	ending   bool
	inflight int
	lastUsed time.Time
}

// current returns the login's session while it runs, or nil.
func (l *appLogin) current() *appSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sess == nil || l.sess.ending || l.sess.isDone() {
		return nil
	}
	return l.sess
}

func (l *appLogin) terminatedMessage() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.terminated
}

func (l *appLogin) markTerminated(msg string) {
	if msg == "" {
		msg = "session terminated by an administrator"
	}
	l.mu.Lock()
	first := l.terminated == ""
	if first {
		l.terminated = msg
	}
	l.mu.Unlock()
	if first {
		// The login is dead on every node: its row goes.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.a.cfg.Store.DeleteAppLogin(ctx, []byte(l.key)); err != nil {
			l.a.cfg.Logger.Error("delete the app login of a terminated session", "app", l.app, "user", l.user, "err", err)
		}
	}
}

// endSession ends the current session, if any (completed).
func (l *appLogin) endSession() {
	l.mu.Lock()
	s := l.sess
	if s != nil {
		s.ending = true
	}
	l.mu.Unlock()
	if s != nil {
		s.end()
	}
}

// acquire returns the login's running session for one request (counted
// in flight until release), starting one when there is none.
func (l *appLogin) acquire(ctx context.Context, p auth.Principal, r *http.Request) (*appSession, error) {
	l.startMu.Lock()
	defer l.startMu.Unlock()
	l.mu.Lock()
	if l.terminated != "" {
		l.mu.Unlock()
		return nil, api.Errorf(api.CodeTerminated, "%s", l.terminated)
	}
	if s := l.sess; s != nil && !s.ending && !s.isDone() {
		s.inflight++
		s.lastUsed = l.a.now()
		l.mu.Unlock()
		return s, nil
	}
	l.mu.Unlock()
	s, err := l.a.startSession(ctx, l, p, r)
	if err != nil {
		if api.CodeOf(err) == api.CodeTerminated {
			l.markTerminated(err.Error())
		}
		return nil, err
	}
	l.mu.Lock()
	l.sess = s
	s.inflight++
	s.lastUsed = l.a.now()
	l.mu.Unlock()
	return s, nil
}

// release ends a request's use of s.
func (l *appLogin) release(s *appSession) {
	l.mu.Lock()
	s.inflight--
	s.lastUsed = l.a.now()
	l.mu.Unlock()
}

// idle reports whether s has had no request for d at now; an idle session
// is marked ending, so that no new request picks it.
func (s *appSession) idle(now time.Time, d time.Duration) bool {
	l := s.login
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.ending || s.inflight > 0 || now.Sub(s.lastUsed) < d {
		return false
	}
	s.ending = true
	return true
}

func (s *appSession) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// end closes the lead: control completes the session and closes its
// connections.
func (s *appSession) end() {
	_ = s.lead.Close()
	s.transport.CloseIdleConnections()
}

// startSession creates a session of l's app for p and attaches its lead.
func (a *Apps) startSession(ctx context.Context, l *appLogin, p auth.Principal, r *http.Request) (*appSession, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), connectTimeout)
	defer cancel()
	sess, err := a.cfg.Sessions.Create(ctx, p, api.CreateSessionRequest{Resource: l.app}, clientIP(r))
	if err != nil {
		return nil, err
	}
	att, err := a.cfg.Sessions.Attach(ctx, p, sess.ID, api.ChannelEvents, r.RemoteAddr)
	if err != nil {
		return nil, err
	}
	ours, theirs := net.Pipe()
	go att.Serve(theirs, nil)
	s := &appSession{id: sess.ID, login: l, p: p, clientIP: r.RemoteAddr, lead: ours, done: make(chan struct{})}
	s.transport = &http.Transport{
		DialContext:           s.dial,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // bytes pass as the upstream sent them
		ReadBufferSize:        64 << 10,
		WriteBufferSize:       64 << 10,
		ExpectContinueTimeout: time.Second,
	}
	s.proxy = a.newProxy(s)
	go a.follow(s)
	a.cfg.Logger.Info("app session started", "session_id", s.id, "app", l.app, "user", p.User)
	return s, nil
}

// dial attaches a data connection of the session and returns our end of
// it: what the transport writes there goes to the agent's HTTP proxy.
func (s *appSession) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	att, err := s.login.a.cfg.Sessions.Attach(ctx, s.p, s.id, api.ChannelData, s.clientIP)
	if err != nil {
		return nil, err
	}
	ours, theirs := net.Pipe()
	go att.Serve(theirs, nil)
	return ours, nil
}

// follow reads the session's event lines until the lead closes, then
// records how the session ended; a terminated session kills the login.
func (a *Apps) follow(s *appSession) {
	var last api.SessionEvent
	sc := bufio.NewScanner(s.lead)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		var ev api.SessionEvent
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Status != "" {
			last = ev
		}
	}
	_ = s.lead.Close()
	if last.Status == api.StatusTerminated {
		s.login.markTerminated(last.Message)
	}
	s.final = last
	close(s.done)
	s.transport.CloseIdleConnections()
	a.cfg.Logger.Info("app session ended", "session_id", s.id, "app", s.login.app, "status", last.Status)
}
