package postgres

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/querylog"
)

func dialRaw(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, nil
}

func startupBytes(user, db string) []byte {
	b, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": user, "database": db}}).Encode(nil)
	return b
}

// readUntilReady reads server messages up to ReadyForQuery.
func readUntilReady(t *testing.T, c net.Conn) {
	t.Helper()
	fe := pgproto3.NewFrontend(c, c)
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("before ReadyForQuery: %v", err)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			return
		}
	}
}

// TestMalformedClient sends bytes that are not the protocol; each ends
// only its own connection (with an error entry), while another connection
// of the same session keeps working.
func TestMalformedClient(t *testing.T) {
	g := startGateway(t, target{requireMachinePG(t), &TargetConfig{User: "postgres"}}, api.SessionOpen{})
	h, _ := g.hostPort()
	_ = h
	// A healthy connection that stays open throughout.
	good, err := dialRaw(g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	good.Write(startupBytes("postgres", "postgres"))
	readUntilReady(t, good)

	hugeQuery := []byte{'Q', 0x7f, 0xff, 0xff, 0xff}
	shortLen := []byte{'Q', 0, 0, 0, 2}
	badParse := append([]byte{'P', 0, 0, 0, 8}, 'x', 'y', 'z', 'w') // no NUL terminators
	tests := []struct {
		name    string
		startup bool // send a valid startup first
		bytes   []byte
		want    string
	}{
		{"http request as startup", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "startup packet length"},
		{"tiny startup", false, []byte{0, 0, 0, 4}, "startup packet length"},
		{"bad protocol version", false, []byte{0, 0, 0, 8, 0, 9, 0, 0}, "protocol version 9.0"},
		{"unterminated parameters", false, []byte{0, 0, 0, 12, 0, 3, 0, 0, 'u', 's', 'e', 'r'}, "not terminated"},
		{"oversized message length", true, hugeQuery, "length"},
		{"length below 4", true, shortLen, "length 2"},
		{"undecodable parse", true, badParse, "malformed"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dialRaw(g.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			id := int64(i + 2)
			if tt.startup {
				c.Write(startupBytes("postgres", "postgres"))
				readUntilReady(t, c)
			}
			c.Write(tt.bytes)
			err = g.serveErr(t, id)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ServeConn = %v, want an error with %q", err, tt.want)
			}
			g.sink.waitEntry(t, "error for conn", func(e querylog.Entry) bool {
				return e.Kind == querylog.KindError && e.Conn == int(id) && strings.Contains(e.Error, tt.want)
			})
		})
	}
	// The healthy connection still answers.
	q, _ := (&pgproto3.Query{String: "select 42"}).Encode(nil)
	good.Write(q)
	fe := pgproto3.NewFrontend(good, good)
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("healthy connection: %v", err)
		}
		if dr, ok := msg.(*pgproto3.DataRow); ok {
			if string(dr.Values[0]) != "42" {
				t.Fatalf("got %q", dr.Values[0])
			}
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	var lenBuf [4]byte
	binary.BigEndian.PutUint32(lenBuf[:], 4)
	g.sink.waitEntry(t, "select 42", func(e querylog.Entry) bool { return e.Statement == "select 42" && e.Conn == 1 && e.Rows == 1 })
}

// TestMessageLimit: a message longer than MaxMessageSize ends the
// connection with a clear error.
func TestMessageLimit(t *testing.T) {
	addr := requireMachinePG(t)
	s, sink, err := openSessionCfg(target{addr, &TargetConfig{User: "postgres"}}, Config{MaxMessageSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b, err := tcpPair()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	errc := make(chan error, 1)
	go func() { errc <- s.ServeConn(t.Context(), a, api.ConnOpen{ConnID: 1}) }()
	var res api.ConnOpenResult
	readFrame(t, b, &res)
	b.Write(startupBytes("postgres", "postgres"))
	readUntilReady(t, b)
	q, _ := (&pgproto3.Query{String: "select '" + strings.Repeat("x", 2000) + "'"}).Encode(nil)
	b.Write(q)
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "longer than the limit of 1024") {
		t.Fatalf("ServeConn = %v", err)
	}
	sink.waitEntry(t, "limit error", func(e querylog.Entry) bool { return e.Kind == querylog.KindError })
}
