package postgres

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/onepam/onepam/pkg/relay"
)

// ServerError is an ErrorResponse the database server sent while the agent
// logged in (e.g. a wrong password). Its Error text carries the server's
// message unchanged, so the person sees why the session failed.
type ServerError struct {
	Severity string // FATAL, ERROR, ...
	Code     string // SQLSTATE, e.g. 28P01
	Message  string
	raw      []byte // the ErrorResponse body, forwarded to the client as is
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("postgres: %s: %s (SQLSTATE %s)", e.Severity, e.Message, e.Code)
}

func serverError(body []byte) *ServerError {
	var er pgproto3.ErrorResponse
	if err := er.Decode(body); err != nil {
		return &ServerError{Severity: "FATAL", Code: "08P01", Message: "malformed error response from the server"}
	}
	return &ServerError{Severity: er.Severity, Code: er.Code, Message: er.Message, raw: append([]byte(nil), body...)}
}

// login is what the agent logs in to the server with.
type login struct {
	user, password, database string
	params                   map[string]string // further startup parameters of the client
}

// serverConn is an authenticated connection to the database server.
type serverConn struct {
	conn net.Conn
	r    *msgReader
	// startup holds the raw ParameterStatus and NoticeResponse messages the
	// server sent during login, for the client.
	startup []byte
	key     pgproto3.BackendKeyData
}

// dialServer opens a connection to the server, with TLS per sslmode.
func (s *session) dialServer(ctx context.Context) (net.Conn, error) {
	addr := s.info.Target.Address
	dctx, cancel := context.WithTimeout(ctx, s.p.cfg.DialTimeout)
	defer cancel()
	conn, err := s.info.Dial(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("reach database %s: %w", addr, err)
	}
	conn = relay.Raw(conn)
	if s.tls == nil {
		return conn, nil
	}
	if dl, ok := dctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// SSLRequest: length 8, code 1234.5679.
	req := []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}
	if _, err := conn.Write(req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("database %s: ssl request: %w", addr, err)
	}
	var answer [1]byte
	if _, err := io.ReadFull(conn, answer[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("database %s: ssl request: %w", addr, err)
	}
	if answer[0] != 'S' {
		conn.Close()
		return nil, fmt.Errorf("database %s does not accept TLS connections, but the resource's sslmode is %s", addr, s.cfg.sslMode())
	}
	tc := tls.Client(conn, s.tls)
	if err := tc.HandshakeContext(dctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("database %s: TLS: %w", addr, err)
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// connectServer logs in to the server and reads up to its first
// ReadyForQuery.
func (s *session) connectServer(ctx context.Context, l login) (*serverConn, error) {
	conn, err := s.dialServer(ctx)
	if err != nil {
		return nil, err
	}
	sc, err := s.authenticate(ctx, conn, l)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return sc, nil
}

func (s *session) authenticate(ctx context.Context, conn net.Conn, l login) (*serverConn, error) {
	dl := s.info.Clock().Add(s.p.cfg.LoginTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	params := map[string]string{}
	for k, v := range l.params {
		params[k] = v
	}
	params["user"] = l.user
	params["database"] = l.database
	w := bufio.NewWriter(conn)
	if err := writeMsgs(w, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: params}); err != nil {
		return nil, err
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("send startup: %w", err)
	}
	sc := &serverConn{conn: conn, r: newMsgReader(conn, s.p.cfg.MaxMessageSize)}
	var scram *scramClient
	for {
		typ, n, err := sc.r.header()
		if err != nil {
			return nil, fmt.Errorf("login to database: %w", unexpectedEOF(err))
		}
		body, err := sc.r.readBody(typ, n)
		if err != nil {
			return nil, fmt.Errorf("login to database: %w", err)
		}
		switch typ {
		case 'E':
			return nil, serverError(body)
		case 'R':
			if len(body) < 4 {
				return nil, fmt.Errorf("login to database: %w: short authentication request", errMalformed)
			}
			reply, err := s.authStep(binary.BigEndian.Uint32(body), body, l, &scram)
			if err != nil {
				return nil, fmt.Errorf("login to database as %q: %w", l.user, err)
			}
			if reply != nil {
				if err := writeMsgs(w, reply); err != nil {
					return nil, err
				}
				if err := w.Flush(); err != nil {
					return nil, fmt.Errorf("login to database: %w", err)
				}
			}
		case 'S', 'N':
			sc.startup = append(sc.startup, sc.r.hdr[:]...)
			sc.startup = append(sc.startup, body...)
		case 'K':
			if err := sc.key.Decode(body); err != nil {
				return nil, fmt.Errorf("login to database: %w: %v", errMalformed, err)
			}
			sc.key.SecretKey = append([]byte(nil), sc.key.SecretKey...)
		case 'v':
			// NegotiateProtocolVersion: the agent asked for 3.0 without
			// protocol options, which every server supports.
		case 'Z':
			conn.SetDeadline(time.Time{})
			return sc, nil
		default:
			return nil, fmt.Errorf("login to database: %w: unexpected message %q", errMalformed, typ)
		}
	}
}

// authStep answers one authentication request of the server; reply is nil
// when nothing is to be sent.
func (s *session) authStep(kind uint32, body []byte, l login, scram **scramClient) (encoder, error) {
	needPassword := func() error {
		if l.password == "" {
			return fmt.Errorf("the database asks for a password but the agent has none configured for user %q", l.user)
		}
		return nil
	}
	switch kind {
	case pgproto3.AuthTypeOk:
		return nil, nil
	case pgproto3.AuthTypeCleartextPassword:
		if err := needPassword(); err != nil {
			return nil, err
		}
		return &pgproto3.PasswordMessage{Password: l.password}, nil
	case pgproto3.AuthTypeMD5Password:
		if err := needPassword(); err != nil {
			return nil, err
		}
		var m pgproto3.AuthenticationMD5Password
		if err := m.Decode(body); err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		return &pgproto3.PasswordMessage{Password: md5Password(l.user, l.password, m.Salt)}, nil
	case pgproto3.AuthTypeSASL:
		if err := needPassword(); err != nil {
			return nil, err
		}
		var m pgproto3.AuthenticationSASL
		if err := m.Decode(body); err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		if !hasMechanism(m.AuthMechanisms, scramMechanism) {
			return nil, fmt.Errorf("the database offers SASL mechanisms %v, the agent speaks %s", m.AuthMechanisms, scramMechanism)
		}
		c, err := newSCRAMClient(l.password)
		if err != nil {
			return nil, err
		}
		*scram = c
		return &pgproto3.SASLInitialResponse{AuthMechanism: scramMechanism, Data: c.clientFirst()}, nil
	case pgproto3.AuthTypeSASLContinue:
		if *scram == nil {
			return nil, fmt.Errorf("%w: SASL continue before SASL start", errMalformed)
		}
		var m pgproto3.AuthenticationSASLContinue
		if err := m.Decode(body); err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		final, err := (*scram).clientFinal(m.Data)
		if err != nil {
			return nil, err
		}
		return &pgproto3.SASLResponse{Data: final}, nil
	case pgproto3.AuthTypeSASLFinal:
		if *scram == nil {
			return nil, fmt.Errorf("%w: SASL final before SASL start", errMalformed)
		}
		var m pgproto3.AuthenticationSASLFinal
		if err := m.Decode(body); err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		return nil, (*scram).verifyServerFinal(m.Data)
	}
	return nil, fmt.Errorf("the database asks for authentication method %d, which the agent does not support (it supports scram-sha-256, md5, password, trust and cert)", kind)
}

// sendCancel opens a new connection to the server and sends a
// CancelRequest with the server's key.
func (s *session) sendCancel(ctx context.Context, key pgproto3.BackendKeyData) error {
	conn, err := s.dialServer(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(s.info.Clock().Add(s.p.cfg.DialTimeout))
	if err := writeMsgs(conn, &pgproto3.CancelRequest{ProcessID: key.ProcessID, SecretKey: key.SecretKey}); err != nil {
		return fmt.Errorf("send cancel request: %w", err)
	}
	// The server answers nothing and closes: wait for that, so the cancel
	// has been read before this returns.
	var b [1]byte
	_, err = conn.Read(b[:])
	if err != nil && !errors.Is(err, io.EOF) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
	}
	return nil
}
