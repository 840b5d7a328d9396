// Package querylog is the recording format of database sessions
// (api.FormatQuerylog): JSON lines, one object per statement or protocol
// event, written by the PostgreSQL and MySQL proxies as the session runs.
//
// # Format
//
// Each line is one JSON object (an Entry) followed by "\n". Lines are
// independent: a reader can start anywhere after a newline, and a session
// cut short loses at most its last, incomplete line. Fields:
//
//	t           number  seconds since the session start (float, µs precision)
//	conn        int     connection number within the session (1, 2, ...):
//	                    one per client connection (stream) of the session
//	database    string  database (schema) the statement ran in; omitted when
//	                    unknown
//	user        string  database user the agent logged in as; omitted when
//	                    unknown
//	kind        string  what happened (Kind):
//	                      query     a statement of a simple/text query (one
//	                                entry per statement result)
//	                      prepare   a statement was prepared (PostgreSQL
//	                                Parse, MySQL COM_STMT_PREPARE)
//	                      bind      binding parameters to a prepared
//	                                statement failed (PostgreSQL Bind, e.g. a
//	                                value of the wrong type); successful
//	                                binds show up in their execute entry
//	                      execute   a prepared statement ran, with its
//	                                parameters
//	                      copy_in   COPY ... FROM STDIN (bytes sent to server)
//	                      copy_out  COPY ... TO STDOUT (bytes sent to client)
//	                      close     a prepared statement/portal was closed
//	                      reset     a prepared statement was reset
//	                                (COM_STMT_RESET) or the connection reset
//	                      init_db   the default database changed (COM_INIT_DB)
//	                      ping      a liveness check (COM_PING)
//	                      quit      the client ended the connection
//	                                (Terminate, COM_QUIT)
//	                      cancel    the client asked to cancel a running
//	                                statement (PostgreSQL CancelRequest); conn
//	                                is the connection cancelled, statement
//	                                what it was running
//	                      error     a protocol-level error not tied to a
//	                                statement (malformed bytes, login failure)
//	                    readers must accept kinds they do not know
//	name        string  prepared statement (or portal) name / MySQL statement
//	                    id; omitted when empty (the unnamed statement)
//	statement   string  the SQL text, at most MaxStatementLen bytes (longer
//	                    text ends with a truncation marker); omitted when none
//	params      array   parameter values of execute/bind, in order: null,
//	                    true/false, numbers, or strings (text as sent; binary
//	                    values decoded by type; raw bytes as "\x" + hex).
//	                    Nothing is redacted; a string longer than MaxParamLen
//	                    bytes is cut and ends with "…[truncated N bytes]"
//	                    (N = the full length); after MaxParams values the
//	                    list ends with the string "…[N more parameters]".
//	                    Omitted when there are none.
//	duration    number  seconds from the request to its completion (command
//	                    complete or error); 0 when not measured
//	rows        int     rows returned (SELECT, COPY TO) or affected (INSERT,
//	                    UPDATE, DELETE, COPY FROM); -1 when unknown or not
//	                    applicable. Always present.
//	bytes       int     COPY data bytes carried; omitted when 0
//	error_code  string  SQLSTATE (PostgreSQL, e.g. "42601") or MySQL error
//	                    number (e.g. "1064"); omitted when no error
//	error       string  the server's (or proxy's) error message; omitted
//	                    when no error
//	tag         string  command tag as the server reported it, e.g.
//	                    "SELECT 1", "INSERT 0 3"; omitted when none
//
// Unknown keys are ignored by the Decoder, so later versions may add fields.
package querylog
