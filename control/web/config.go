package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/onepam/onepam/control/auth"
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
}

func (c Config) withDefaults() (Config, error) {
	if c.API == nil || c.Auth == nil {
		return c, errors.New("web: Config.API and Config.Auth are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
