// Package har is the recording format of HTTP sessions: HAR 1.2 (HTTP
// Archive, http://www.softwareishard.com/blog/har-12-spec/), stored while
// the session runs as JSON lines and exported as one HAR document. The
// api.RecordingFormat name is "har"; exported files use ".har".
//
// # Stored form (version 1)
//
// UTF-8 JSON lines, each ending in "\n", written with one Write per line
// so that entries are appended as their exchanges complete and a crash
// loses at most the line being written. The first line is the header:
//
//	_onepam_har  integer  StoredVersion (1); the key marks the header line
//	creator      object   HAR creator {name: "onepam", version}
//	session_id   string   the onepam session id (omitted when empty)
//	resource     string   the resource name (omitted when empty)
//	user         string   the person (omitted when empty)
//	target       string   the upstream base URL (omitted when empty)
//	started      string   session start, RFC 3339 with milliseconds
//
// Every following line is one HAR 1.2 entry object exactly as it appears
// in the exported document (startedDateTime, time, request{method, url,
// httpVersion, cookies, headers, queryString, postData{mimeType, params,
// text}, headersSize, bodySize}, response{status, statusText,
// httpVersion, cookies, headers, content{size, compression, mimeType,
// text, encoding}, redirectURL, headersSize, bodySize}, cache, timings
// {blocked, dns, connect, send, wait, receive, ssl}, serverIPAddress,
// connection, comment), plus onepam's custom fields (HAR allows fields
// whose names start with "_"; they are kept on export):
//
//	_conn               integer  the connection number within the session
//	                             (api.ConnOpen.ConnID), 1, 2, ...; also in
//	                             "connection" as a string
//	_t                  number   when the exchange started, in seconds since
//	                             the session started (header.started)
//	_webSocket          object   on an upgraded (101) exchange: bytesUp
//	                             (person → upstream), bytesDown, messages
//	                             (data messages seen), dropped (messages
//	                             beyond the kept maximum)
//	_webSocketMessages  array    the WebSocket data messages, as Chrome's
//	                             developer tools export them: type "send" |
//	                             "receive", time (unix seconds), opcode
//	                             (1 text, 2 binary), data (text, or base64
//	                             for binary)
//	postData._encoding  string   "base64" when a binary request body is
//	                             recorded in base64 (HAR has content.encoding
//	                             for responses only)
//
// Meanings onepam gives to HAR fields: request is what was sent upstream
// (the upstream URL, after header rewriting); times are milliseconds, -1
// where a phase did not happen (dns, connect and ssl on a reused upstream
// connection); time is the sum of the non-negative timings but ssl;
// headersSize is the size of the header block in HTTP/1.1 form;
// bodySize counts the body bytes carried; content.size is the real decoded
// size of the response body even when its text was cut.
//
// Bodies are kept up to a cap per direction (DefaultBodyCap, 64 KiB):
// a cut body says "body truncated: K of N bytes recorded" in the comment
// of its postData or content. Textual bodies (valid UTF-8 of a textual type
// or without control bytes) are text; others are base64 with encoding
// "base64".
//
// Secrets never reach the stored form: the Encoder runs a Redactor over
// each entry first. Values of Authorization, Proxy-Authorization and
// configured headers, cookie values (Cookie and Set-Cookie headers and the
// cookies arrays; names and attributes stay), and query, form and JSON
// fields whose names look secret (contain, case- and "-"/"_"-insensitively,
// one of DefaultSecretFields or the configured list) become "[REDACTED]",
// also in request.url, Location and redirectURL.
//
// The Decoder validates each line (what HAR 1.2 and har-validator require:
// an RFC 3339 startedDateTime, a method, an absolute URL, non-negative send,
// wait, receive and time, other timings ≥ -1, sizes ≥ -1, an IP address in
// serverIPAddress, valid base64) and returns errors wrapping ErrMalformed
// with the line number; unknown fields are ignored. A last line without
// newline that does not parse is ErrTruncated: Export stops there and says
// so in log.comment.
//
// # Export
//
// Export writes {"log": {"version": "1.2", "creator", "pages", "entries",
// "comment"}} with one page (id PageID, titled after the session, both
// pageTimings -1) that every entry refers to by pageref, streaming entry by
// entry.
package har
