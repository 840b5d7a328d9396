// Package api is the control server's HTTP API: thin handlers under /v1/
// that authenticate (package auth), check the caller's role, call the
// store or the session manager, and answer JSON. Every error answer is an
// api.ErrorBody with the code matching the HTTP status; request bodies are
// limited to 1 MiB and unknown JSON fields are refused.
//
// Routes (Go 1.22 ServeMux patterns):
//
//	GET    /healthz                          no auth
//	GET    /metrics                          no auth, Prometheus text
//	GET    /v1/whoami
//	POST   /v1/users, GET /v1/users, DELETE /v1/users/{name}
//	POST   /v1/tokens, GET /v1/tokens?user=, DELETE /v1/tokens/{id}
//	GET    /v1/policy, POST /v1/policy, PUT /v1/policy, DELETE /v1/policy/{id}
//	GET    /v1/audit?actor=&action=&since=&limit=
//	POST   /v1/agents/tokens, GET /v1/agents, DELETE /v1/agents/{agent}
//	GET    /v1/resources?type=&label=k=v
//	POST   /v1/sessions, GET /v1/sessions, GET /v1/sessions/{id}
//	GET    /v1/sessions/stream   server-sent events: one "session" event per
//	                             created, started or ended session the caller
//	                             may list (data: {"kind", "session"})
//	POST   /v1/sessions/{id}/kill
//	GET    /v1/sessions/{id}/connect?channel=events|data   (HTTP/1.1 upgrade)
//	GET    /v1/sessions/{id}/recording?format=native
//	                             the stored bytes; format=native converts
//	                             them to the format's native file (.cast,
//	                             .har, …), unwrapping a recording container
//
// The API also accepts the web console's session cookie instead of a
// bearer token (control/auth, control/web); state-changing requests made
// with the cookie must carry the X-CSRF-Token header.
//
// Every administrative action (users, tokens, policy, agents, kill,
// recording reads) writes an audit event with the actor, target, outcome
// and client IP (the TCP peer's address; proxy headers are not trusted,
// but a request forwarded by another control node comes with the person's
// address, which control sets before the API sees it).
//
// A request that another control node must serve — create for a
// resource whose agent is attached there, connect, kill or watch of a
// session it carries, a recording read (replay, export, verify, watch)
// of a session it ran whose recording this node's storage does not hold
// (dir storage is each node's own) — is forwarded to it (Config.Forward,
// forward.go) once, marked with HeaderForwardedBy; when that node cannot
// be reached, has stopped or advertises no URL, create, connect and a
// recording read answer other_node with the reason, a kill ends the
// session through the database and a watch of a running session is
// served here.
package api
