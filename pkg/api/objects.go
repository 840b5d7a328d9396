package api

import "time"

// User is a person (or robot) known to control.
type User struct {
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateUserRequest is the body of POST /v1/users.
type CreateUserRequest struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// TokenTTLSeconds, when > 0, also creates a first API token for the user
	// with that lifetime and returns it in CreateUserResponse.Token.
	TokenTTLSeconds int64 `json:"token_ttl_seconds"`
}

// CreateUserResponse is the answer to POST /v1/users.
type CreateUserResponse struct {
	User  User          `json:"user"`
	Token *CreatedToken `json:"token,omitempty"`
}

// Token is an API bearer token. The secret is shown once, at creation.
type Token struct {
	ID         string     `json:"id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"` // null: never expires
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// CreateTokenRequest is the body of POST /v1/tokens. Admins may create
// tokens for any user; others only for themselves.
type CreateTokenRequest struct {
	User       string `json:"user"` // "" = the caller
	Name       string `json:"name"`
	TTLSeconds int64  `json:"ttl_seconds"` // 0 = default (30 days); <0 = never expires
}

// CreatedToken is a token with its secret, returned once.
type CreatedToken struct {
	Token  Token  `json:"token"`
	Secret string `json:"secret"`
}

// Whoami is the body of GET /v1/whoami.
type Whoami struct {
	User    string `json:"user"`
	Role    Role   `json:"role"`
	TokenID string `json:"token_id"`
}

// Resource is something an agent can connect people to.
type Resource struct {
	Name        string            `json:"name"`
	Type        SessionType       `json:"type"`
	Labels      map[string]string `json:"labels"`
	Description string            `json:"description"`
	// Address is the target's host:port (never credentials).
	Address string `json:"address"`
	// Protocol is the protocol serving the resource, as the agent
	// announces it: tcp, ssh, postgres, mysql, http, vnc ("" from agents
	// that do not announce it). It tells a db resource's dialect.
	Protocol string `json:"protocol"`
	Agent    string `json:"agent"`  // name of the agent serving it
	Online   bool   `json:"online"` // whether that agent is connected (to any live control node)
	// NodeID and NodeName are the control node the serving agent is
	// attached to, while it is online ("" when offline). Several control
	// nodes may share a database; an agent is attached to one of them.
	NodeID   string `json:"node_id"`
	NodeName string `json:"node_name"`
}

// Agent is an enrolled agent.
type Agent struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
	Version  string `json:"version"`
	// Online: the agent is connected to a live control node (whichever
	// node answers the listing).
	Online bool `json:"online"`
	// NodeID and NodeName are the control node the agent is attached to,
	// while it is online ("" when offline or revoked).
	NodeID     string     `json:"node_id"`
	NodeName   string     `json:"node_name"`
	EnrolledAt time.Time  `json:"enrolled_at"`
	LastSeenAt *time.Time `json:"last_seen_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Resources  []string   `json:"resources"` // names
	RemoteAddr string     `json:"remote_addr"`
}

// CreateEnrollTokenRequest is the body of POST /v1/agents/tokens.
type CreateEnrollTokenRequest struct {
	TTLSeconds int64 `json:"ttl_seconds"` // 0 = default (1 hour)
}

// EnrollToken is a one-time agent enrollment token. Token embeds control's
// CA fingerprint so that the agent can pin control on first contact.
type EnrollToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	CAPin     string    `json:"ca_pin"` // "sha256:<hex>" of control's CA certificate
}

// PolicyRule allows a subject to connect to resources. A connection is
// allowed when at least one rule matches it; admins are subject to rules
// too (first start seeds "role:admin may use everything").
type PolicyRule struct {
	ID string `json:"id"`
	// Subject is "role:<role>" or "user:<name>".
	Subject string `json:"subject"`
	// Resources are name globs (path.Match syntax); empty or "*" = any.
	Resources []string `json:"resources"`
	// Types restricts the session types; empty = any.
	Types []SessionType `json:"types"`
	// Labels must all be present on the resource with equal values ("*" = any value).
	Labels map[string]string `json:"labels"`
	// Logins are the allowed target logins (globs); empty = only sessions
	// without a login (e.g. tcp); "*" = any.
	Logins []string `json:"logins"`
	// Databases are the allowed database names for db sessions (globs);
	// empty = any.
	Databases   []string  `json:"databases"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// PolicyFile is the document `onepam policy apply -f` sends (PUT /v1/policy):
// it replaces every rule.
type PolicyFile struct {
	Rules []PolicyRule `json:"rules" yaml:"rules"`
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID       string            `json:"id"`
	Time     time.Time         `json:"time"`
	Actor    string            `json:"actor"`   // user or "agent:<name>" or "system"
	Action   string            `json:"action"`  // e.g. session.kill, session.denied, user.create
	Target   string            `json:"target"`  // the object acted upon
	Outcome  string            `json:"outcome"` // "success" or "denied" or "error"
	Detail   string            `json:"detail"`
	ClientIP string            `json:"client_ip"`
	Fields   map[string]string `json:"fields,omitempty"`
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
	OutcomeError   = "error"
)
