package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

// Auth is what the console needs of control's authentication: log a token
// in as a web session, look a session up, end it (*auth.Tokens).
type Auth interface {
	Login(ctx context.Context, secret string) (auth.WebSession, error)
	WebSession(ctx context.Context, id string) (auth.WebSession, error)
	Logout(id string)
}

// Config configures Handler. API and Auth are required.
type Config struct {
	// API serves /v1/, /healthz and /metrics (control's API handler).
	API http.Handler
	// Auth logs people in.
	Auth Auth
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Insecure drops the Secure attribute of the cookies: only for a
	// console served over plain HTTP in tests. Control always serves HTTPS.
	Insecure bool

	// Audit records login events (failed logins, password logins); nil
	// records nothing. Control passes its store's AddAudit.
	Audit func(ctx context.Context, e api.AuditEvent) error
	// Clock defaults to time.Now (the login rate limiter's time).
	Clock func() time.Time
	// LoginFailures is how many failed logins one client IP may make per
	// LoginWindow before its logins are refused (429). Defaults 10 and
	// 15 minutes.
	LoginFailures int
	LoginWindow   time.Duration
}

// PasswordAuth is what a user/password login needs of control's
// authentication (*auth.Tokens); an Auth without it refuses such logins.
type PasswordAuth interface {
	LoginPassword(ctx context.Context, user, password string) (auth.WebSession, error)
}

func (c Config) withDefaults() (Config, error) {
	if c.API == nil || c.Auth == nil {
		return c, errors.New("web: Config.API and Config.Auth are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.LoginFailures <= 0 {
		c.LoginFailures = 10
	}
	if c.LoginWindow <= 0 {
		c.LoginWindow = 15 * time.Minute
	}
	return c, nil
}
