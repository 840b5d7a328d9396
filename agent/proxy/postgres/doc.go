// Package postgres is the agent's PostgreSQL proxy. Every connection of a
// database session is a PostgreSQL client connection (psql, pgx, JDBC, ...)
// that the proxy serves as a server, with its own connection to the real
// server on which the agent logs in itself; every statement is written to
// the session's query log (recordfmt/querylog).
//
// # Connection
//
//   - The client's SSLRequest and GSSENCRequest are answered 'N': the hop
//     from the person's machine to the agent already runs inside control's
//     TLS tunnel.
//   - The client's StartupMessage names a user and database. The database
//     user is SessionOpen.Login when control set it, else the client's user
//     when the agent has credentials for it, else the resource's default
//     user (so `psql` run by any local account works); it must be one the
//     agent has credentials for (TargetConfig). The database is
//     SessionOpen.Database, else the client's (unless it is only libpq's
//     default, the replaced user's name), else the resource's default, else
//     the user's name.
//     Any password the client has is never asked for: the client gets
//     AuthenticationOk, since control already authorised the session.
//   - The agent logs in to the server (SCRAM-SHA-256, md5, cleartext or
//     trust; TLS per sslmode, optionally with a client certificate) and hands
//     the server's ParameterStatus messages and ReadyForQuery to the client.
//     A server login error (e.g. a wrong agent password) is passed to the
//     client as the server sent it.
//   - The client gets a synthetic BackendKeyData (process id = connection
//     number, random secret). A CancelRequest arriving on a new connection
//     of the session with that key is carried to the server with the real
//     key, on a new server connection.
//
// # Relay and logging
//
// Messages are relayed unchanged both ways; the proxy decodes only what the
// log needs (Query, Parse, Bind, Execute, Describe, Close, Sync from the
// client; CommandComplete, ErrorResponse, ParameterDescription and the
// small state messages from the server) and streams the rest (rows, COPY
// data). Each direction reads into one pooled buffer, scans the messages
// where they lie and forwards what a read brought in one write; the log
// entries a read completes are written before its bytes are forwarded.
// Requests are queued in order and matched with the server's answers:
//
//   - simple Query: one "query" entry per statement result (statements split
//     as the server does), with the command tag, rows and duration; a COPY
//     statement is a "copy_in"/"copy_out" entry with the data bytes;
//   - extended protocol: "prepare" for named statements (and any failed
//     Parse), "execute" with the statement text and Bind parameters decoded
//     by type, "bind" for a failed Bind, "close" for closed named
//     statements; errors carry the SQLSTATE and message;
//   - "quit" on Terminate, "cancel" for a carried CancelRequest, "error" for
//     connection-level failures (malformed bytes, login failures).
//
// Malformed bytes from either side end that connection only, with an
// ErrorResponse to the client and an "error" entry.
package postgres
