package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// Startup packet codes (the first int32 of the body).
const (
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
	codeCancelRequest = 80877102
)

// pgConn is one client connection and its server connection.
type pgConn struct {
	s      *session
	id     int64
	client net.Conn
	server net.Conn // set under s.mu (setServer)

	key     pgproto3.BackendKeyData // the synthetic key the client got
	realKey pgproto3.BackendKeyData // the server's key
	user    string
	db      string

	mu      sync.Mutex
	queue   []*pending // requests sent to the server whose answers are due
	stmts   map[string]*prepared
	portals map[string]*portal
	copyIn  *pending    // the request whose COPY FROM STDIN runs
	types   *pgtype.Map // decodes binary parameters; client goroutine only

	done []querylog.Entry // the entries a server read completes; server goroutine only
}

func newPgConn(s *session, id int64, client net.Conn) *pgConn {
	return &pgConn{s: s, id: id, client: client, stmts: map[string]*prepared{}, portals: map[string]*portal{}}
}

// entry returns a query log entry of this connection.
func (pc *pgConn) entry(kind querylog.Kind, at time.Time) querylog.Entry {
	return querylog.Entry{T: pc.s.since(at), Conn: int(pc.id), Database: pc.db, User: pc.user, Kind: kind, Rows: -1}
}

// fatal sends a FATAL ErrorResponse to the client (best effort).
func (pc *pgConn) fatal(code, msg string) {
	pc.client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	writeMsgs(pc.client, &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
}

// failed records a connection-level error and returns err.
func (pc *pgConn) failed(err error) error {
	e := pc.entry(querylog.KindError, pc.s.info.Clock())
	e.Error = err.Error()
	var se *ServerError
	if errors.As(err, &se) {
		e.ErrorCode = se.Code
	}
	pc.s.record(e)
	return err
}

// serve runs the connection to its end.
func (pc *pgConn) serve(ctx context.Context) error {
	s := pc.s
	stop := context.AfterFunc(ctx, func() { pc.client.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	cr := newMsgReader(pc.client, s.p.cfg.MaxMessageSize)
	pc.client.SetDeadline(s.info.Clock().Add(s.p.cfg.LoginTimeout))
	var params map[string]string
	var version uint32
	for i := 0; params == nil; i++ {
		if i == 4 {
			return pc.failed(fmt.Errorf("%w: too many startup packets", errMalformed))
		}
		buf, err := cr.startup()
		if err != nil {
			if errors.Is(err, io.EOF) && i > 0 {
				return nil // psql drops a connection after SSL is refused, e.g. sslmode=require
			}
			return pc.failed(fmt.Errorf("client startup: %w", err))
		}
		code := binary.BigEndian.Uint32(buf)
		switch code {
		case codeSSLRequest:
			// No TLS on this hop: the client talks to its local `onepam db
			// connect` listener, whose stream is carried inside control's
			// TLS tunnel to the agent, so the bytes are already encrypted
			// on the network. 'N' lets the client go on in plain text.
			if _, err := pc.client.Write([]byte{'N'}); err != nil {
				return err
			}
		case codeGSSENCRequest:
			if _, err := pc.client.Write([]byte{'N'}); err != nil {
				return err
			}
		case codeCancelRequest:
			return pc.cancel(ctx, buf)
		default:
			if code>>16 != 3 {
				return pc.failed(fmt.Errorf("%w: startup packet with protocol version %d.%d", errMalformed, code>>16, code&0xffff))
			}
			version = code
			if params, err = startupParams(buf[4:]); err != nil {
				pc.fatal("08P01", err.Error())
				return pc.failed(err)
			}
		}
	}

	if v := params["replication"]; v != "" && v != "false" && v != "off" && v != "no" && v != "0" {
		err := errors.New("replication connections are not supported through onepam")
		pc.fatal("0A000", err.Error())
		return pc.failed(err)
	}
	user, db := s.cfg.chooseLogin(s.info.Open.Login, s.info.Open.Database, params["user"], params["database"])
	var unknownOpts []string
	pass := map[string]string{}
	for k, v := range params {
		switch {
		case k == "user" || k == "database":
		case strings.HasPrefix(k, "_pq_."):
			unknownOpts = append(unknownOpts, k)
		default:
			pass[k] = v
		}
	}
	l, err := s.login(user, db, pass)
	if err != nil {
		pc.fatal("28000", err.Error())
		return pc.failed(err)
	}
	pc.user, pc.db = l.user, l.database
	sc, err := s.connectServer(ctx, l)
	if err != nil {
		var se *ServerError
		if errors.As(err, &se) && se.raw != nil {
			writeRaw(pc.client, 'E', se.raw)
		} else {
			pc.fatal("08006", err.Error())
		}
		return pc.failed(err)
	}
	defer sc.conn.Close()
	pc.realKey = sc.key
	pc.key = pgproto3.BackendKeyData{ProcessID: uint32(pc.id), SecretKey: make([]byte, 4)}
	rand.Read(pc.key.SecretKey)
	if !s.setServer(pc, sc.conn) {
		return proxy.ErrEnding
	}

	// The person is authorised by control: the client gets AuthenticationOk
	// without being asked for a password.
	var out []byte
	if version != pgproto3.ProtocolVersion30 || len(unknownOpts) > 0 {
		out, _ = (&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknownOpts}).Encode(out)
	}
	out, _ = (&pgproto3.AuthenticationOk{}).Encode(out)
	out = append(out, sc.startup...)
	out, _ = pc.key.Encode(out)
	out, _ = (&pgproto3.ReadyForQuery{TxStatus: 'I'}).Encode(out)
	if _, err := pc.client.Write(out); err != nil {
		return err
	}
	pc.client.SetDeadline(time.Time{})
	return pc.relay(ctx, cr, sc)
}

// writeRaw writes one message with the given type and body.
func writeRaw(w io.Writer, typ byte, body []byte) error {
	msg := make([]byte, 5, 5+len(body))
	msg[0] = typ
	binary.BigEndian.PutUint32(msg[1:], uint32(4+len(body)))
	_, err := w.Write(append(msg, body...))
	return err
}

// startupParams decodes the name/value pairs of a StartupMessage.
func startupParams(b []byte) (map[string]string, error) {
	params := map[string]string{}
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil, fmt.Errorf("%w: startup parameters not terminated", errMalformed)
		}
		if i == 0 {
			if len(b) != 1 {
				return nil, fmt.Errorf("%w: data after the startup parameters", errMalformed)
			}
			return params, nil
		}
		name := string(b[:i])
		b = b[i+1:]
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			return nil, fmt.Errorf("%w: startup parameter %q has no value", errMalformed, name)
		}
		params[name] = string(b[:j])
		b = b[j+1:]
	}
}

// cancel carries a CancelRequest to the backend of the connection whose
// synthetic key it names.
func (pc *pgConn) cancel(ctx context.Context, buf []byte) error {
	s := pc.s
	var req pgproto3.CancelRequest
	if err := req.Decode(buf); err != nil {
		return pc.failed(fmt.Errorf("%w: cancel request: %v", errMalformed, err))
	}
	s.mu.Lock()
	target := s.keys[req.ProcessID]
	s.mu.Unlock()
	if target == nil || subtle.ConstantTimeCompare(target.key.SecretKey, req.SecretKey) != 1 {
		return pc.failed(errors.New("cancel request with a key no connection of this session has"))
	}
	now := s.info.Clock()
	e := target.entry(querylog.KindCancel, now)
	e.Statement = target.running()
	err := s.sendCancel(ctx, target.realKey)
	if err != nil {
		e.Error = err.Error()
	}
	e.Duration = s.info.Clock().Sub(now).Seconds()
	s.record(e)
	return err
}

// relay carries messages both ways until either side ends.
func (pc *pgConn) relay(ctx context.Context, cr *msgReader, sc *serverConn) error {
	stop := context.AfterFunc(ctx, func() { pc.server.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	limit := pc.s.p.cfg.MaxMessageSize
	cin, sin := newInbuf(limit, cr.buffered()), newInbuf(limit, sc.r.buffered())
	sc.r = nil // the login's reader and its buffer are done with
	defer cin.release()
	defer sin.release()
	done := make(chan error, 1)
	go func() {
		err := pc.clientLoop(cin, sc.conn)
		// The client is gone or said Terminate: the server's side ends too.
		sc.conn.Close()
		done <- err
	}()
	serr := pc.serverLoop(sin, sc.conn)
	pc.client.SetReadDeadline(time.Unix(1, 0)) // stop the client loop
	cerr := <-done
	switch {
	case errors.Is(cerr, errTerminated), cerr == nil && serr == nil:
		return nil
	case cerr != nil && !errors.Is(cerr, io.EOF) && !isTimeout(cerr) && !errors.Is(cerr, net.ErrClosed):
		return cerr
	case serr != nil && !errors.Is(serr, io.EOF) && !errors.Is(serr, net.ErrClosed):
		return serr
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
