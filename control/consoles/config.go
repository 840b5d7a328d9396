package consoles

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// Sessions is what the consoles need of the session manager: attaching a
// connection of a session, as GET /v1/sessions/{id}/connect does.
type Sessions interface {
	Attach(ctx context.Context, p auth.Principal, id, channel, clientAddr string) (*sessions.Attachment, error)
	// MarkWebConsole tags the session as driven by a browser: its file
	// transfers are recorded with protocol "web".
	MarkWebConsole(id string)
	// Carrier returns the live control node that carries unfinished
	// session id when it is another node than this one.
	Carrier(ctx context.Context, id string) (store.ControlNode, bool)
}

// Forwarder sends a request to another control node (control's
// forwarder, shared with the API and the apps; see
// control/api.Forwarder): the person's headers kept, upgrades passed
// through, fail called with why when it does not forward.
type Forwarder interface {
	Forward(w http.ResponseWriter, r *http.Request, node store.ControlNode, fail func(why string))
}

// Store is what the consoles read from the database.
type Store interface {
	GetSession(ctx context.Context, id string) (api.Session, error)
	GetResource(ctx context.Context, name string) (store.ResourceRecord, error)
}

// Auth authenticates requests (*auth.Tokens): the API's middleware, and
// the web session behind a cookie (for the CSRF token of WebSockets).
type Auth interface {
	Middleware(writeErr auth.ErrorWriter, next http.Handler) http.Handler
	WebSession(ctx context.Context, id string) (auth.WebSession, error)
}

// Config configures the consoles. Sessions, Store and Auth are required.
type Config struct {
	Sessions Sessions
	Store    Store
	Auth     Auth
	// Forward, when set, sends the requests of a session another live
	// control node carries to that node; without it they are answered
	// other_node.
	Forward Forwarder
	Logger  *slog.Logger
	Clock   func() time.Time
	// MaxRows caps the rows a query answer carries (default 1,000); the
	// rest are counted, not sent.
	MaxRows int
	// QueryTimeout bounds one database console request (default 60 s).
	QueryTimeout time.Duration
	// IdleTimeout ends a database console session without requests for
	// this long (default 15 minutes).
	IdleTimeout time.Duration
	// MaxUpload bounds one terminal upload request (default 1 GiB).
	MaxUpload int64
	// MaxMessage bounds one WebSocket message from the browser (default
	// 1 MiB).
	MaxMessage int64
	// ConnectTimeout bounds attaching a session and the SSH or database
	// handshake over it (default 30 s).
	ConnectTimeout time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Sessions == nil || c.Store == nil || c.Auth == nil {
		return c, errors.New("consoles: Config.Sessions, Store and Auth are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 1000
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 60 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 15 * time.Minute
	}
	if c.MaxUpload <= 0 {
		c.MaxUpload = 1 << 30
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = 1 << 20
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	return c, nil
}
