package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
)

// Conn is an upgraded session connection: raw bytes both ways. CloseWrite
// ends the sending half (a TLS close_notify) while reading goes on.
type Conn interface {
	net.Conn
	CloseWrite() error
}

// upgradedConn serves first the bytes the response reader buffered past
// the 101 answer, then reads the TLS connection directly.
type upgradedConn struct {
	*tls.Conn
	br *bufio.Reader // nil once drained
}

func (c *upgradedConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

// Connect attaches to a session: GET /v1/sessions/{id}/connect upgraded to
// "onepam-session/1" on channel "events" (the session's lead; SessionEvent
// JSON lines follow) or "data" (one connection carried to the target).
// An error answer is returned as *api.Error (target_failed when the agent
// or the target cannot be reached). The context bounds the handshake only;
// close the connection to end it.
func (c *Client) Connect(ctx context.Context, sessionID, channel string) (Conn, error) {
	if channel == "" {
		channel = api.ChannelData
	}
	return c.connect(ctx, sessionID, channel)
}

// connect makes the upgraded connection of channel.
func (c *Client) connect(ctx context.Context, sessionID, channel string) (*upgradedConn, error) {
	target := c.endpoint("/v1/sessions/"+url.PathEscape(sessionID)+"/connect", url.Values{"channel": {channel}})
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("build connect request: %w", err)
	}
	c.authorize(req.Header)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", api.UpgradeProtocol)

	raw, err := c.dialer.DialContext(ctx, "tcp", hostPort(c.base))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &NetworkError{URL: c.URL(), Err: err}
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	conn := tls.Client(relay.Raw(raw), c.tls)
	// Until the 101 arrives, the context and the timeout bound every step.
	_ = conn.SetDeadline(time.Now().Add(c.cfg.Timeout))
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	uc, err := c.upgrade(conn, req)
	stopped := stop()
	if err == nil && !stopped {
		err = ctx.Err() // the context ended just as the upgrade succeeded
	}
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return uc, nil
}

func (c *Client) upgrade(conn *tls.Conn, req *http.Request) (*upgradedConn, error) {
	if err := conn.Handshake(); err != nil {
		return nil, &NetworkError{URL: c.URL(), Err: err}
	}
	if err := req.Write(conn); err != nil {
		return nil, &NetworkError{URL: c.URL(), Err: err}
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, &NetworkError{URL: c.URL(), Err: fmt.Errorf("read upgrade answer: %w", err)}
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			return nil, &api.Error{Code: api.CodeInternal, Message: fmt.Sprintf("control answered %s instead of upgrading the connection", resp.Status)}
		}
		return nil, decodeError(resp.StatusCode, http.StatusText(resp.StatusCode), resp.Body)
	}
	if got := resp.Header.Get("Upgrade"); got != api.UpgradeProtocol {
		return nil, &api.Error{Code: api.CodeInternal, Message: fmt.Sprintf("control upgraded to %q, want %q", got, api.UpgradeProtocol)}
	}
	return &upgradedConn{Conn: conn, br: br}, nil
}

// hostPort returns u's host with the default https port when none is given.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "443")
}
