package apps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Sessions is what apps need of the session manager (*sessions.Manager).
type Sessions interface {
	Create(ctx context.Context, p auth.Principal, req api.CreateSessionRequest, clientIP string) (api.Session, error)
	Attach(ctx context.Context, p auth.Principal, id, channel, clientAddr string) (*sessions.Attachment, error)
}

// Store is what apps read and write in the database.
type Store interface {
	GetResource(ctx context.Context, name string) (store.ResourceRecord, error)
	ListPolicyRules(ctx context.Context) ([]api.PolicyRule, error)
	AddAudit(ctx context.Context, e api.AuditEvent) error
	// Logins and launch codes, kept in the database so that every
	// control node accepts them and a restart keeps them.
	CreateAppLogin(ctx context.Context, l store.AppLogin) error
	GetAppLogin(ctx context.Context, key []byte) (store.AppLogin, error)
	DeleteAppLogin(ctx context.Context, key []byte) error
	CreateAppCode(ctx context.Context, c store.AppCode) error
	TakeAppCode(ctx context.Context, hash []byte, now time.Time) (store.AppCode, error)
	DeleteExpiredAppLogins(ctx context.Context, now time.Time) (int64, error)
}

// Auth resolves the console's web sessions (*auth.Tokens): by the cookie
// at launch, by its Key (what an app login keeps) afterwards.
type Auth interface {
	WebSession(ctx context.Context, id string) (auth.WebSession, error)
	WebSessionByKey(ctx context.Context, key []byte) (auth.WebSession, error)
}

// Forwarder sends a request to another control node (control's
// forwarder, shared with the API and the consoles; see
// control/api.Forwarder): the person's headers (Host and cookies
// included) kept, upgrades passed through, fail called with why when it
// does not forward.
type Forwarder interface {
	Forward(w http.ResponseWriter, r *http.Request, node store.ControlNode, fail func(why string))
}

// Config configures the published apps. Sessions, Store and Auth are
// required; the rest has defaults (withDefaults).
type Config struct {
	// Domain is the apps domain: resource NAME is served at
	// https://NAME.<Domain>, and the console's login page is looked for at
	// https://<Domain> (same port). Default "localhost".
	Domain string
	// IdleTimeout ends an app session without requests for this long
	// (completed). Default 15 minutes.
	IdleTimeout time.Duration
	// LoginTTL bounds an app login (the cookie), whatever the activity.
	// Default 12 hours.
	LoginTTL time.Duration
	// CookieName is the app login cookie; the state cookie of a login in
	// progress is CookieName + "_state". Default "onepam_app".
	CookieName string
	Sessions   Sessions
	Store      Store
	Auth       Auth
	// Forward, when set, sends the requests of an app whose agent is
	// attached to another live control node to that node; without it
	// they get an error page naming that node.
	Forward Forwarder
	Logger  *slog.Logger     // default: discard
	Clock   func() time.Time // default time.Now
}

// Defaults.
const (
	DefaultDomain      = "localhost"
	DefaultIdleTimeout = 15 * time.Minute
	DefaultLoginTTL    = 12 * time.Hour
	DefaultCookieName  = "onepam_app"
	// codeTTL is how long a launch code may wait for its exchange.
	codeTTL = time.Minute
	// stateTTL is how long a login started on an app host may take.
	stateTTL = 10 * time.Minute
	// connectTimeout bounds creating and attaching a session.
	connectTimeout = 30 * time.Second
	// loginCacheTTL is how long a node trusts an app login it read from
	// the store: a logout on another node ends the login here within it.
	loginCacheTTL = 5 * time.Second
	// maxLogins bounds the table of the logins this node serves (a cache
	// of the store's, with their running sessions); beyond, the one that
	// expires first is dropped (and its session ended).
	maxLogins = 100_000
)

func (c Config) withDefaults() (Config, error) {
	if c.Sessions == nil || c.Store == nil || c.Auth == nil {
		return c, errors.New("apps: Config.Sessions, Store and Auth are required")
	}
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	d, err := NormalizeDomain(c.Domain)
	if err != nil {
		return c, err
	}
	c.Domain = d
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.LoginTTL <= 0 {
		c.LoginTTL = DefaultLoginTTL
	}
	if c.CookieName == "" {
		c.CookieName = DefaultCookieName
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c, nil
}

// NormalizeDomain checks an apps domain (DNS labels of letters, digits and
// hyphens, no port, no wildcard) and returns it in lower case without a
// trailing dot.
func NormalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	if d == "" {
		return "", errors.New("apps domain is empty")
	}
	for _, label := range strings.Split(d, ".") {
		if !validLabel(label) {
			return "", fmt.Errorf("apps domain %q: %q is not a DNS label (letters, digits and hyphens, at most 63)", d, label)
		}
	}
	return d, nil
}

// CertNames are the names control's server certificate must carry for the
// apps domain d: d itself (the console's login page) and *.d (the apps).
func CertNames(d string) []string {
	d, err := NormalizeDomain(d)
	if err != nil {
		return nil
	}
	return []string{d, "*." + d}
}
