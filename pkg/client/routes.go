package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Health calls GET /healthz; it needs no token.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// Whoami calls GET /v1/whoami.
func (c *Client) Whoami(ctx context.Context) (api.Whoami, error) {
	var out api.Whoami
	err := c.do(ctx, http.MethodGet, "/v1/whoami", nil, nil, &out)
	return out, err
}

// CreateUser calls POST /v1/users.
func (c *Client) CreateUser(ctx context.Context, req api.CreateUserRequest) (api.CreateUserResponse, error) {
	var out api.CreateUserResponse
	err := c.do(ctx, http.MethodPost, "/v1/users", nil, req, &out)
	return out, err
}

// ListUsers calls GET /v1/users.
func (c *Client) ListUsers(ctx context.Context) ([]api.User, error) {
	var out []api.User
	err := c.do(ctx, http.MethodGet, "/v1/users", nil, nil, &out)
	return out, err
}

// DeleteUser calls DELETE /v1/users/{name}.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/users/"+url.PathEscape(name), nil, nil, nil)
}

// CreateToken calls POST /v1/tokens.
func (c *Client) CreateToken(ctx context.Context, req api.CreateTokenRequest) (api.CreatedToken, error) {
	var out api.CreatedToken
	err := c.do(ctx, http.MethodPost, "/v1/tokens", nil, req, &out)
	return out, err
}

// ListTokens calls GET /v1/tokens; user "" lists the caller's tokens (or
// every token, for an admin, as control decides).
func (c *Client) ListTokens(ctx context.Context, user string) ([]api.Token, error) {
	q := url.Values{}
	if user != "" {
		q.Set("user", user)
	}
	var out []api.Token
	err := c.do(ctx, http.MethodGet, "/v1/tokens", q, nil, &out)
	return out, err
}

// RevokeToken calls DELETE /v1/tokens/{id}.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(id), nil, nil, nil)
}

// ListPolicy calls GET /v1/policy.
func (c *Client) ListPolicy(ctx context.Context) ([]api.PolicyRule, error) {
	var out []api.PolicyRule
	err := c.do(ctx, http.MethodGet, "/v1/policy", nil, nil, &out)
	return out, err
}

// AddPolicyRule calls POST /v1/policy.
func (c *Client) AddPolicyRule(ctx context.Context, rule api.PolicyRule) (api.PolicyRule, error) {
	var out api.PolicyRule
	err := c.do(ctx, http.MethodPost, "/v1/policy", nil, rule, &out)
	return out, err
}

// ApplyPolicy calls PUT /v1/policy: the file's rules replace every rule.
func (c *Client) ApplyPolicy(ctx context.Context, file api.PolicyFile) error {
	return c.do(ctx, http.MethodPut, "/v1/policy", nil, file, nil)
}

// DeletePolicyRule calls DELETE /v1/policy/{id}.
func (c *Client) DeletePolicyRule(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/policy/"+url.PathEscape(id), nil, nil, nil)
}

// AuditQuery filters GET /v1/audit. Zero fields do not filter.
type AuditQuery struct {
	Actor  string
	Action string
	Since  time.Time
	Limit  int
}

// ListAudit calls GET /v1/audit.
func (c *Client) ListAudit(ctx context.Context, aq AuditQuery) ([]api.AuditEvent, error) {
	q := url.Values{}
	setIf(q, "actor", aq.Actor)
	setIf(q, "action", aq.Action)
	setTime(q, "since", aq.Since)
	if aq.Limit > 0 {
		q.Set("limit", strconv.Itoa(aq.Limit))
	}
	var out []api.AuditEvent
	err := c.do(ctx, http.MethodGet, "/v1/audit", q, nil, &out)
	return out, err
}

// CreateEnrollToken calls POST /v1/agents/tokens.
func (c *Client) CreateEnrollToken(ctx context.Context, req api.CreateEnrollTokenRequest) (api.EnrollToken, error) {
	var out api.EnrollToken
	err := c.do(ctx, http.MethodPost, "/v1/agents/tokens", nil, req, &out)
	return out, err
}

// ListAgents calls GET /v1/agents.
func (c *Client) ListAgents(ctx context.Context) ([]api.Agent, error) {
	var out []api.Agent
	err := c.do(ctx, http.MethodGet, "/v1/agents", nil, nil, &out)
	return out, err
}

// RemoveAgent calls DELETE /v1/agents/{id-or-name}: the agent is revoked
// and disconnected.
func (c *Client) RemoveAgent(ctx context.Context, idOrName string) error {
	return c.do(ctx, http.MethodDelete, "/v1/agents/"+url.PathEscape(idOrName), nil, nil, nil)
}

// ResourceQuery filters GET /v1/resources. Zero fields do not filter.
type ResourceQuery struct {
	Type   api.SessionType
	Labels map[string]string // each becomes ?label=k=v; all must match
}

// ListResources calls GET /v1/resources.
func (c *Client) ListResources(ctx context.Context, rq ResourceQuery) ([]api.Resource, error) {
	q := url.Values{}
	setIf(q, "type", string(rq.Type))
	keys := make([]string, 0, len(rq.Labels))
	for k := range rq.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q.Add("label", k+"="+rq.Labels[k])
	}
	var out []api.Resource
	err := c.do(ctx, http.MethodGet, "/v1/resources", q, nil, &out)
	return out, err
}

// CreateSession calls POST /v1/sessions; the session is pending until its
// lead connection attaches (Connect).
func (c *Client) CreateSession(ctx context.Context, req api.CreateSessionRequest) (api.Session, error) {
	var out api.Session
	err := c.do(ctx, http.MethodPost, "/v1/sessions", nil, req, &out)
	return out, err
}

// SessionQuery filters GET /v1/sessions. Zero fields do not filter.
type SessionQuery struct {
	Status   []api.SessionStatus
	Type     []api.SessionType
	User     string
	Resource string
	Since    time.Time
	Until    time.Time
	Limit    int    // 1..1000; 0 = control's default (50)
	Cursor   string // SessionList.NextCursor of the previous page
}

// Values returns the query parameters of q.
func (sq SessionQuery) Values() url.Values {
	q := url.Values{}
	if len(sq.Status) > 0 {
		s := make([]string, len(sq.Status))
		for i, v := range sq.Status {
			s[i] = string(v)
		}
		q.Set(api.QueryStatus, strings.Join(s, ","))
	}
	if len(sq.Type) > 0 {
		s := make([]string, len(sq.Type))
		for i, v := range sq.Type {
			s[i] = string(v)
		}
		q.Set(api.QueryType, strings.Join(s, ","))
	}
	setIf(q, api.QueryUser, sq.User)
	setIf(q, api.QueryResource, sq.Resource)
	setTime(q, api.QuerySince, sq.Since)
	setTime(q, api.QueryUntil, sq.Until)
	if sq.Limit > 0 {
		q.Set(api.QueryLimit, strconv.Itoa(sq.Limit))
	}
	setIf(q, api.QueryCursor, sq.Cursor)
	return q
}

// ListSessions calls GET /v1/sessions: one page, newest first.
func (c *Client) ListSessions(ctx context.Context, sq SessionQuery) (api.SessionList, error) {
	var out api.SessionList
	err := c.do(ctx, http.MethodGet, "/v1/sessions", sq.Values(), nil, &out)
	return out, err
}

// GetSession calls GET /v1/sessions/{id}.
func (c *Client) GetSession(ctx context.Context, id string) (api.Session, error) {
	var out api.Session
	err := c.do(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// KillSession calls POST /v1/sessions/{id}/kill.
func (c *Client) KillSession(ctx context.Context, id, reason string) (api.Session, error) {
	var out api.Session
	err := c.do(ctx, http.MethodPost, "/v1/sessions/"+url.PathEscape(id)+"/kill", nil, api.KillSessionRequest{Reason: reason}, &out)
	return out, err
}

// Recording calls GET /v1/sessions/{id}/recording and returns the native
// recording bytes; the caller closes the reader.
func (c *Client) Recording(ctx context.Context, id string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id)+"/recording", nil, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func setTime(q url.Values, k string, t time.Time) {
	if !t.IsZero() {
		q.Set(k, t.UTC().Format(time.RFC3339Nano))
	}
}
