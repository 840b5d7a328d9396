// Package consoles runs the web console's own sessions on control: a web
// terminal for SSH resources, a VNC desktop viewer and a database console.
// A browser can speak neither SSH nor the PostgreSQL/MySQL wire protocols
// nor raw TCP, so control plays the client for it, in process, over the
// very session path the CLI uses: the browser creates the session with
// POST /v1/sessions (policy, audit, pending row), then one of the routes
// below attaches the session's connections through the session manager
// (sessions.Manager.Attach, exactly as GET /v1/sessions/{id}/connect does
// for the CLI) and serves them on an in-memory pipe. Every console session
// is therefore a normal session: counted, listed, killable, and recorded by
// the agent like a CLI session (asciicast, deskproto, query log; SFTP
// transfers as file activity, reported by the agent with protocol "sftp").
//
// Routes (Wrap serves them in front of the API handler; every other request
// goes to the API unchanged). All need the caller's authentication (bearer
// token or the console's cookie); only the session's owner may use them,
// as for /connect:
//
//	GET    /v1/sessions/{id}/terminal        WebSocket: the web terminal (ssh)
//	POST   /v1/sessions/{id}/terminal/files  multipart upload into ?dir= (SFTP)
//	GET    /v1/sessions/{id}/terminal/files  download of ?path= (SFTP)
//	GET    /v1/sessions/{id}/vnc             WebSocket: raw RFB (vnc)
//	POST   /v1/sessions/{id}/query           {"sql": "..."} → QueryResult (db)
//	DELETE /v1/sessions/{id}/query           ends a database console session
//
// # Several control nodes
//
// A console's session runs on the control node its resource's agent is
// attached to (POST /v1/sessions is forwarded there by the API). A route
// above reaching another node, for a session of the caller's that a live
// node other than this one carries, is forwarded to that node by
// control's forwarder (Config.Forward), the one the API uses: the
// WebSocket upgrade, file and query requests pass with the cookie, the
// CSRF token and the Host kept, and that node serves them (its own
// checks again). A request forwarded already is not forwarded again; when
// the carrier cannot be forwarded to, the answer is other_node with why
// (a WebSocket is accepted and closed with code 4421 and that message).
//
// # WebSockets and CSRF
//
// Browsers cannot set headers on a WebSocket, so a WebSocket authenticated
// by the console's cookie must carry the CSRF token as the query parameter
// csrf (?csrf=TOKEN), and its Origin must be control's own (checked by the
// WebSocket handshake). A bearer-token client (tests, scripts) needs
// neither.
//
// # Terminal protocol (GET /v1/sessions/{id}/terminal?cols=&rows=&csrf=)
//
// Control attaches the session's lead data connection, runs an SSH client
// (golang.org/x/crypto/ssh, no credentials: the agent's SSH server accepts
// "none" and logs in to the target itself) over it, requests a PTY
// ("xterm-256color", cols × rows, default 80 × 24) and a shell, then
// relays:
//
//   - browser → control, binary message: keystrokes/paste, written to the
//     shell's stdin as they are;
//   - browser → control, text message: one JSON control message,
//     {"type": "resize", "cols": N, "rows": N} (a window-change request;
//     1..1000 each) — any other text message closes the terminal with an
//     error;
//   - control → browser, binary message: terminal output (stdout; stderr
//     too, a PTY merges them);
//   - control → browser, text message: {"type": "exit", "status": N,
//     "message": "..."} when the shell ends (status -1 when the connection
//     was cut, e.g. the session was terminated), followed by a normal
//     close; {"type": "error", "message": "..."} before a close that is an
//     error.
//
// Closing the WebSocket closes the SSH connection, the session's lead:
// the session completes. The open SSH connection is also what the file
// routes use: while the terminal is open, POST .../terminal/files
// (multipart/form-data, each file part written as DIR/<base name of the
// part's file name>, DIR = ?dir= or the login's home directory) and GET
// .../terminal/files?path=FILE run over an "sftp" subsystem channel of the
// same SSH connection (github.com/pkg/sftp), so the agent records them as
// the session's file activity.
//
// # VNC (GET /v1/sessions/{id}/vnc?csrf=)
//
// The WebSocket is the session's lead data connection: binary messages are
// the RFB bytes both ways (the agent's VNC proxy is an RFB server with
// security None towards the person), relayed without interpretation. The
// browser runs noVNC. Closing it completes the session.
//
// # Database console (POST /v1/sessions/{id}/query)
//
// The first query of a db session attaches its events channel (the lead)
// and one data connection, and logs in over it with pgx's pgconn
// (protocol postgres) or go-sql-driver/mysql (protocol mysql) through a
// dialer that returns the data connection. No password is needed: the
// agent logs in to the server itself. Statements run one request at a
// time with the simple query protocol, so every statement lands in the
// agent's query log as typed. The answer is a QueryResult (columns, rows
// as text capped at Config.MaxRows, command tag, duration, the server's
// error). The session ends (completed) on DELETE, when it has been idle
// for Config.IdleTimeout, or when it is terminated.
package consoles
