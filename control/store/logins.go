package store

import "time"

// Logins kept in the database, so that every control node sharing it
// accepts them and a restart keeps them: the web console's sessions and
// the published apps' logins with their one-time launch codes. Each is
// named by the SHA-256 of its secret (the cookie value, the code): the
// secret itself is never stored.

// WebSession is a logged-in browser of the web console.
type WebSession struct {
	Key  []byte // SHA-256 of the session cookie's value
	User string // the user who logged in
	// TokenID and TokenHash name the API token the session was opened
	// with (TokenHash is the token's stored hash, as in the tokens
	// table); both empty for a password login, tied to the user.
	TokenID   string
	TokenHash []byte
	CreatedAt time.Time
	// LastUsedAt is the last use written (uses are written at most about
	// once a minute), and IdleExpiresAt when the session ends unless used
	// again (LastUsedAt plus the idle timeout).
	LastUsedAt    time.Time
	IdleExpiresAt time.Time
	// ExpiresAt is when the session ends whatever its use (the token's
	// expiry); nil for never.
	ExpiresAt *time.Time
}

// Expired reports whether ws has ended at now (idle or absolute expiry).
func (ws WebSession) Expired(now time.Time) bool {
	return !now.Before(ws.IdleExpiresAt) || (ws.ExpiresAt != nil && !now.Before(*ws.ExpiresAt))
}

// AppLogin is one browser's login to one published app (its app cookie).
type AppLogin struct {
	Key []byte // SHA-256 of the app cookie's value
	App string // the app (resource) name
	// WebSessionKey is the Key of the console's web session the login was
	// made from: the app login ends with it.
	WebSessionKey []byte
	User          string
	CreatedAt     time.Time
	ExpiresAt     time.Time // the login's lifetime, whatever its use
}

// AppCode is a one-time launch code of an app login, waiting for its
// exchange on the app host.
type AppCode struct {
	Hash          []byte // SHA-256 of the code
	App           string
	State         string // the state of the login started on the app host
	WebSessionKey []byte
	User          string
	ExpiresAt     time.Time
}
