// Package httpproxy is the agent's HTTP proxy: a reverse proxy in front of
// one upstream web application (a resource http(s)://host:port/base),
// recording every exchange as a HAR entry (recordfmt/har).
//
// Each connection of a session carries plain HTTP/1.1 from the person's
// local client (the hops person → control → agent are already TLS).
// ServeConn answers the ConnOpenResult, then serves the connection. To a
// plain-http upstream, requests of any method but CONNECT (and PRI), without a body
// or with one whose length a single Content-Length gives, take the fast
// path (fast.go): request and response heads read by hand (h1.go), the
// request written upstream in one write on the person connection's own
// upstream connection (pinned.go) together with the body bytes read with
// its head, the rest of the body copied from the person's connection in
// chunks, the response head written with the first body bytes in one
// write, all on ServeConn's goroutine, with the bytes, answers and entries
// of the net/http path. Only body-less GET/HEAD/OPTIONS/TRACE requests are
// sent again when a reused upstream connection fails before answering;
// the others go on a new connection when the upstream closed the idle
// one. The first request the fast path does not take hands the connection
// to Go's http.Server (keep-alive, pipelining, upgrades, errors for
// malformed requests) for the rest of its life: chunked request bodies
// (Transfer-Encoding), Expect: 100-continue, Upgrade, a Content-Length
// that is invalid (answered 400 and recorded) or given twice, HTTP/1.0,
// heads over 8 KiB. There body-less requests to a plain-http upstream
// still go over the pinned connection, written and read on the handler's
// goroutine, and the others through one http.Transport shared by the
// whole session (upstream connection reuse; HTTP/2 to https upstreams
// that offer it):
//
//   - the path is mapped under the base path; Host is the upstream host
//     (or host_header); the person's user name goes in X-OnePAM-User (or
//     user_header) and any such header the person sent is dropped, as are
//     X-Forwarded-*, which the agent sets itself; configured headers and
//     basic_auth are added (they stay on the agent and are redacted in the
//     recording);
//   - bodies stream both ways, teed into a capped capture (body_cap, 64 KiB
//     by default; a cut capture is noted, binary bodies are recorded as
//     base64, form bodies as params) for the recording: nothing is
//     buffered whole. On the fast path the upstream's answer is read once
//     the request body is sent, or once the upstream stops taking it and
//     closes (an upstream that neither reads the body nor closes holds
//     the exchange until it does, or the session ends); a person
//     connection that ends inside a body ends that exchange (the
//     upstream gets the short request, the entry the error);
//   - Location headers pointing into the upstream become paths on the
//     person's side, Set-Cookie loses a Domain naming the upstream and has
//     its Path mapped, so links and logins work through the local port;
//   - Upgrade requests (WebSocket) go upstream on a connection of their
//     own; after the 101 the two connections are spliced with pkg/relay
//     and WebSocket messages are logged as they pass; the exchange is one
//     entry with byte counts and _webSocketMessages;
//   - an upstream failure answers 502 with a page naming the error, and is
//     recorded with the error in the entry's comment;
//   - bytes that are not HTTP end that connection only: the server answers
//     400 and the refusal is recorded as an entry.
//
// Entries carry real timings (blocked, dns, connect, ssl, send, wait,
// receive from an httptrace of the upstream request) and sizes; see
// recordfmt/har for the format and its redaction of secrets.
package httpproxy
