package httpproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/recordfmt/har"
)

// isUpgrade reports whether r asks to switch protocols (WebSocket).
func isUpgrade(r *http.Request) bool {
	if r.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range r.Header["Connection"] {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
}

// hopHeaders are removed from an upgrade request (Connection and Upgrade
// are set again).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// serveUpgrade carries an Upgrade request: it sends it upstream on a
// connection of its own and, on 101, splices the two connections with
// pkg/relay, logging WebSocket messages on the way. The exchange is
// recorded as one entry when the upgraded connection ends.
func (cc *clientConn) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	s := cc.s
	x := cc.newExchange(r)
	upgrade := r.Header.Get("Upgrade")
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL = s.base.JoinPath(r.URL.Path)
	if !strings.HasPrefix(out.URL.Path, "/") {
		// JoinPath on a base without a path gives "ws", not "/ws".
		out.URL.Path = "/" + out.URL.Path
	}
	out.URL.RawQuery = r.URL.RawQuery
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	s.upstreamHeaders(out, r)
	out.Header.Set("Connection", "Upgrade")
	out.Header.Set("Upgrade", upgrade)
	x.setOut(out)
	if r.Body != nil && r.Body != http.NoBody {
		out.Body = &reqBody{rc: r.Body, x: x}
	}

	x.stamp(&x.getConn)
	up, err := s.dialUpstream(r.Context())
	if err != nil {
		s.errorHandler(w, r.WithContext(withExchange(r, x)), err)
		s.record(x.entry())
		return
	}
	if !cc.track(up) {
		up.Close()
		return
	}
	defer func() {
		cc.untrack(up)
		up.Close()
	}()
	x.mu.Lock()
	x.gotConn = s.now()
	if h, _, err := net.SplitHostPort(up.RemoteAddr().String()); err == nil && net.ParseIP(h) != nil {
		x.serverIP = h
	}
	x.mu.Unlock()
	if err := out.Write(up); err != nil {
		s.errorHandler(w, r.WithContext(withExchange(r, x)), fmt.Errorf("send upgrade request upstream: %w", err))
		s.record(x.entry())
		return
	}
	x.stamp(&x.wrote)
	br := bufio.NewReader(up)
	resp, err := http.ReadResponse(br, out)
	if err != nil {
		s.errorHandler(w, r.WithContext(withExchange(r, x)), fmt.Errorf("read upgrade response from upstream: %w", err))
		s.record(x.entry())
		return
	}
	x.stamp(&x.firstByte)
	x.mu.Lock()
	x.status, x.statusText, x.proto, x.respHeader = resp.StatusCode, statusText(resp), resp.Proto, resp.Header.Clone()
	x.mu.Unlock()

	if resp.StatusCode != http.StatusSwitchingProtocols {
		// Refused: pass the answer on like any response.
		defer resp.Body.Close()
		s.rewriteResponseHeaders(resp.Header)
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, err := relay.Copy(w, io.TeeReader(resp.Body, lockedWriter{x}), nil)
		x.mu.Lock()
		x.bodyEnd = s.now()
		if err != nil {
			x.err = err
		}
		x.mu.Unlock()
		s.record(x.entry())
		return
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), upgrade) {
		s.errorHandler(w, r.WithContext(withExchange(r, x)), fmt.Errorf("upstream switched to protocol %q, not the %q asked for", resp.Header.Get("Upgrade"), upgrade))
		s.record(x.entry())
		return
	}
	client, cbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		s.errorHandler(w, r.WithContext(withExchange(r, x)), fmt.Errorf("take over the person's connection: %w", err))
		s.record(x.entry())
		return
	}
	defer cc.finish() // the server no longer tracks this connection
	s.rewriteResponseHeaders(resp.Header)
	head := fmt.Sprintf("HTTP/1.1 101 %s\r\n", x.statusText)
	if _, err := io.WriteString(client, head); err == nil {
		if err = resp.Header.Write(client); err == nil {
			_, err = io.WriteString(client, "\r\n")
		}
	}
	if err != nil {
		x.mu.Lock()
		x.err = fmt.Errorf("write 101 to the person: %w", err)
		x.mu.Unlock()
		client.Close()
		s.record(x.entry())
		return
	}

	ws := &wsLog{max: s.p.cfg.MaxWebSocketMessages}
	isWS := strings.EqualFold(upgrade, "websocket")
	personSide := &tapConn{Conn: client, r: cbuf.Reader}
	upstreamSide := &tapConn{Conn: up, r: br}
	if isWS {
		personSide.p = newWSParser("send", ws, s.now, s.cfg.BodyCap)
		upstreamSide.p = newWSParser("receive", ws, s.now, s.cfg.BodyCap)
	}
	var upN, downN atomic.Int64
	serr := relay.Splice(personSide, upstreamSide, &upN, &downN)
	x.mu.Lock()
	x.bodyEnd = s.now()
	if serr != nil && r.Context().Err() == nil {
		x.err = fmt.Errorf("upgraded connection: %w", serr)
	}
	x.mu.Unlock()
	e := x.entry()
	e.WebSocket = &har.WebSocketStats{BytesUp: upN.Load(), BytesDown: downN.Load()}
	if isWS {
		ws.mu.Lock()
		e.WebSocketMessages = ws.msgs
		e.WebSocket.Messages, e.WebSocket.Dropped = ws.count, ws.dropped
		ws.mu.Unlock()
	}
	s.record(e)
}

func withExchange(r *http.Request, x *exchange) context.Context {
	return context.WithValue(r.Context(), exchangeKey{}, x)
}

// lockedWriter writes into the exchange's response capture.
type lockedWriter struct{ x *exchange }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.x.mu.Lock()
	defer l.x.mu.Unlock()
	return l.x.respCap.Write(p)
}

// tapConn reads through a bufio.Reader holding bytes already read past
// the HTTP head, and shows what it reads to a WebSocket parser.
type tapConn struct {
	net.Conn
	r *bufio.Reader
	p *wsParser
}

func (t *tapConn) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if n > 0 && t.p != nil {
		t.p.feed(b[:n])
	}
	return n, err
}

// CloseWrite passes a half-close on (relay falls back to Close).
func (t *tapConn) CloseWrite() error {
	if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return t.Conn.Close()
}
