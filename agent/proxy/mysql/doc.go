// Package mysql is the agent's MySQL / MariaDB proxy. The person's client
// (mariadb, mysql, any driver) talks to the agent as to a server: the agent
// sends its own Handshake v10 (with the real server's version string),
// accepts whatever credentials the client sends — the session is already
// authorised by control — and logs in to the real server itself with
// credentials that live only in agent.yaml (TargetConfig), over TLS when the
// resource says so. It supports mysql_native_password, MariaDB's
// client_ed25519 and MySQL 8's caching_sha2_password (fast and full
// authentication, full over TLS or with the server's RSA key) towards the
// server, and authentication switches.
//
// After login the command phase is relayed packet by packet, unchanged,
// and decoded on the way for the session's query log (recordfmt/querylog):
// COM_QUERY (one entry per result, multi-result sets included),
// COM_STMT_PREPARE / EXECUTE (parameters decoded by type) / CLOSE / RESET /
// SEND_LONG_DATA / FETCH, COM_INIT_DB, with rows returned or affected,
// error codes and messages, and durations. COM_PING, COM_QUIT,
// COM_FIELD_LIST and the other harmless administrative commands pass
// through; COM_CHANGE_USER and the replication commands are refused.
//
// The packet codec (packet.go) joins payloads split into 0xffffff-byte
// packets and caps a reassembled payload (Config.MaxPayload); malformed
// bytes from either side end that connection with a clear error, never
// the session.
package mysql
