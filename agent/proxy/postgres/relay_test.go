package postgres

import (
	"bytes"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/proxy/proxytest"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// captureConn records what is written to it.
type captureConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *captureConn) Write(p []byte) (int, error) { return c.buf.Write(p) }

func encodeAll(t *testing.T, msgs ...encoder) []byte {
	t.Helper()
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// unitConn is a pgConn on captured client and server sides, logging to
// a memory sink.
func unitConn(t *testing.T, maxBody int) (*pgConn, *captureConn, *captureConn, *memSink) {
	sink := &memSink{}
	info := proxytest.Info(api.SessionOpen{SessionID: "s1", Type: api.TypeDB}, proxy.Target{Name: "pg"}, sink)
	s := &session{p: New(Config{MaxMessageSize: maxBody}), info: info, start: info.Clock(), enc: querylog.NewEncoder(info.Recorder), keys: map[uint32]*pgConn{}}
	client, server := &captureConn{}, &captureConn{}
	pc := newPgConn(s, 1, client)
	pc.server = server
	return pc, client, server, sink
}

// feed passes stream through chunk in pieces of size bytes (the last one
// shorter), as reads would bring it.
func feed(t *testing.T, in *inbuf, stream []byte, size int, chunk func(*inbuf) error) error {
	t.Helper()
	for len(stream) > 0 {
		k := copy(in.space()[:min(size, len(in.space()))], stream)
		if k == 0 {
			t.Fatalf("no room in the buffer (%d of %d bytes used)", in.n, len(in.buf))
		}
		stream = stream[k:]
		in.n += k
		if err := chunk(in); err != nil {
			return err
		}
	}
	return nil
}

// TestRelayChunks: whatever the read sizes, both directions forward the
// bytes unchanged and log the same entries, for streamed messages (rows,
// COPY data) and held ones (a query, a command tag, an error) longer than
// the read buffer.
func TestRelayChunks(t *testing.T) {
	bigQuery := "select '" + strings.Repeat("q", 100_000) + "'"
	fromClient := encodeAll(t,
		&pgproto3.Query{String: bigQuery},
		&pgproto3.Parse{Name: "s1", Query: "select $1::int"},
		&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("7")}},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
		&pgproto3.Query{String: "copy t from stdin"},
	)
	fromClientCopy := encodeAll(t,
		&pgproto3.CopyData{Data: bytes.Repeat([]byte("x"), 150_000)},
		&pgproto3.CopyData{Data: []byte("y\n")},
		&pgproto3.CopyDone{},
		&pgproto3.Terminate{},
	)
	fromServer := encodeAll(t,
		&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("x")}}},
		&pgproto3.DataRow{Values: [][]byte{bytes.Repeat([]byte("r"), 200_000)}},
		&pgproto3.NoticeResponse{Message: "hello"},
		&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'},
		&pgproto3.ParseComplete{},
		&pgproto3.BindComplete{},
		&pgproto3.DataRow{Values: [][]byte{[]byte("7")}},
		&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'},
		&pgproto3.CopyInResponse{},
	)
	fromServerEnd := encodeAll(t,
		&pgproto3.ErrorResponse{Severity: "ERROR", Code: "22P02", Message: strings.Repeat("e", 80_000)},
		&pgproto3.ReadyForQuery{TxStatus: 'I'},
	)
	for _, size := range []int{1, 3, 5, 6, 4096, 65536, 1 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			pc, client, server, sink := unitConn(t, 1<<20)
			cin, sin := newInbuf(1<<20, nil), newInbuf(1<<20, nil)
			defer cin.release()
			defer sin.release()
			clientChunk := func(in *inbuf) error { return pc.clientChunk(in, server) }
			// The client's requests up to the COPY, the server's answers up
			// to CopyInResponse, the COPY data, the error.
			if err := feed(t, cin, fromClient, size, clientChunk); err != nil {
				t.Fatal(err)
			}
			if err := feed(t, sin, fromServer, size, pc.serverChunk); err != nil {
				t.Fatal(err)
			}
			if err := feed(t, cin, fromClientCopy, size, clientChunk); err != errTerminated {
				t.Fatalf("client chunks ended with %v, want errTerminated", err)
			}
			if err := feed(t, sin, fromServerEnd, size, pc.serverChunk); err != nil {
				t.Fatal(err)
			}
			if want := slices.Concat(fromClient, fromClientCopy); !bytes.Equal(server.buf.Bytes(), want) {
				t.Errorf("server got %d bytes, want the client's %d unchanged", server.buf.Len(), len(want))
			}
			if !bytes.Equal(client.buf.Bytes(), slices.Concat(fromServer, fromServerEnd)) {
				t.Errorf("client got %d bytes, want the server's %d unchanged", client.buf.Len(), len(fromServer)+len(fromServerEnd))
			}
			var got []string
			for _, e := range sink.entries(t) {
				got = append(got, string(e.Kind)+" rows="+strconv.Itoa(int(e.Rows))+" bytes="+strconv.Itoa(int(e.Bytes))+" tag="+e.Tag+" code="+e.ErrorCode+" "+trunc(e.Statement))
			}
			want := []string{
				"query rows=1 bytes=0 tag=SELECT 1 code= " + trunc(bigQuery),
				"prepare rows=-1 bytes=0 tag= code= select $1::int",
				"execute rows=1 bytes=0 tag=SELECT 1 code= select $1::int",
				"quit rows=-1 bytes=0 tag= code= ",
				"copy_in rows=-1 bytes=150002 tag= code=22P02 copy t from stdin",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func trunc(s string) string { return s[:min(len(s), 20)] }
