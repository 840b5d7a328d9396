package mysql

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/recordfmt/querylog"
)

// rawClient is a hand-driven client connection to the proxy.
type rawClient struct {
	c net.Conn
	r *packetReader
	w *packetWriter
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	rc := &rawClient{c: c, r: newPacketReader(bufio.NewReader(c), 1<<20), w: newPacketWriter(bufio.NewWriter(c))}
	p, _, err := rc.r.next()
	if err != nil {
		t.Fatalf("greeting: %v", err)
	}
	if _, err := parseGreeting(p); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return rc
}

func (rc *rawClient) send(seq byte, p []byte) {
	rc.w.write(seq, p)
	rc.w.flush()
}

// login sends a well-formed HandshakeResponse41 and expects OK.
func (rc *rawClient) login(t *testing.T) {
	t.Helper()
	h := &handshakeResponse{caps: capProtocol41 | capSecureConnection | capPluginAuth, maxPacket: 1 << 24, charset: 45, user: "raw", plugin: pluginNative}
	rc.send(1, appendHandshakeResponse(nil, h, nil))
	p, _, err := rc.r.next()
	if err != nil || p[0] != hdrOK {
		t.Fatalf("login: %v % x", err, p)
	}
}

// closed reports whether the proxy ended the connection, after reading
// any packets it sent first (e.g. an ERR).
func (rc *rawClient) closed() (lastErr *errPacket, ended bool) {
	for {
		p, _, err := rc.r.next()
		if err != nil {
			return lastErr, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "reset")
		}
		if len(p) > 0 && p[0] == hdrErr {
			lastErr = parseErr(p)
		}
	}
}

func TestMalformedClientBytes(t *testing.T) {
	requireServer(t, machineMariaDB)
	f := newFixture(t, machineMariaDB, "mysql_native_password")
	h := startProxy(t, f.addr, f.target(), "")
	// A healthy connection of the same session, open throughout.
	good := proxyDB(t, h.addr, f.db, false)
	good.SetMaxOpenConns(1)
	if err := good.Ping(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		loginOK bool
		bytes   func(rc *rawClient)
		errCode uint16 // ERR the client gets before the end; 0 for none
	}{
		{"truncated handshake response", false, func(rc *rawClient) { rc.send(1, []byte{1, 2, 3}) }, 1043},
		{"pre-4.1 handshake response", false, func(rc *rawClient) { rc.send(1, make([]byte, 40)) }, 1043},
		{"truncated packet", true, func(rc *rawClient) { rc.c.Write([]byte{50, 0, 0, 0, comQuery, 's'}); rc.c.(*net.TCPConn).CloseWrite() }, 0},
		{"empty command", true, func(rc *rawClient) { rc.send(0, nil) }, 0},
		{"bad continuation sequence", true, func(rc *rawClient) {
			big := make([]byte, maxPacketChunk+4)
			big[0] = comQuery
			raw := rawPackets(0, big)
			raw[4+maxPacketChunk+3] = 7
			rc.c.Write(raw)
		}, 0},
		{"execute of a statement with truncated parameters", true, func(rc *rawClient) {
			rc.send(0, append([]byte{comStmtPrepare}, "select ?, ?"...))
			var id []byte
			for {
				p, _, err := rc.r.next()
				if err != nil {
					return
				}
				if id == nil && p[0] == hdrOK {
					id = append([]byte(nil), p[1:5]...)
				}
				if isEOF(p, 0) && id != nil {
					break
				}
			}
			// two parameters, types say LONGLONG, only 3 value bytes
			ex := append([]byte{comStmtExecute}, id...)
			ex = append(ex, 0, 1, 0, 0, 0, 0, 1, typeLongLong, 0, typeLongLong, 0, 1, 2, 3)
			rc.send(0, ex)
		}, 1835},
		{"execute without a statement id", true, func(rc *rawClient) { rc.send(0, []byte{comStmtExecute, 1}) }, 1835},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := dialRaw(t, h.addr)
			if c.loginOK {
				rc.login(t)
			}
			c.bytes(rc)
			ep, ended := rc.closed()
			if !ended {
				t.Fatalf("connection not ended")
			}
			if c.errCode != 0 && (ep == nil || ep.code != c.errCode) {
				t.Errorf("ERR before the end: %v, want code %d", ep, c.errCode)
			}
			var one int
			if err := good.QueryRow("select 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("the healthy connection broke: %v", err)
			}
		})
	}
	es := h.waitFor("an error entry per malformed connection", func(es []querylog.Entry) bool {
		n := 0
		for _, e := range es {
			if e.Kind == querylog.KindError {
				n++
			}
		}
		return n >= len(cases)
	})
	for _, e := range es {
		if e.Kind == querylog.KindError && e.Error == "" {
			t.Errorf("error entry without a message: %+v", e)
		}
	}
}

// TestSessionClose checks that Close (kill) ends client and server
// connections at once.
func TestSessionClose(t *testing.T) {
	requireServer(t, machineMariaDB)
	f := newFixture(t, machineMariaDB, "mysql_native_password")
	h := startProxy(t, f.addr, f.target(), "")
	rc := dialRaw(t, h.addr)
	rc.login(t)
	rc.send(0, append([]byte{comQuery}, "select sleep(30)"...))
	h.waitFor("the connection", func(es []querylog.Entry) bool { return len(find(es, "connect", "")) == 1 })
	if err := h.sess.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ended := rc.closed(); !ended {
		t.Fatal("client connection not closed")
	}
	es := h.entries()
	last := es[len(es)-1]
	if last.Kind != querylog.KindError || !strings.Contains(last.Error, "session ended") {
		t.Errorf("last entry %+v, want the session end", last)
	}
}
