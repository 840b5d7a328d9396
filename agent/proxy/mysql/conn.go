package mysql

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// kindConnect is the query log kind of a successful login: which database
// user the agent logged in as, in which database, and how long it took.
const kindConnect querylog.Kind = "connect"

// mconn is one client connection and its server connection.
type mconn struct {
	s  *session
	id int64

	mu     sync.Mutex // guards client and server for abort
	client net.Conn
	server net.Conn

	cr *packetReader // from the client
	cw *packetWriter // to the client
	sc *serverConn   // the server (reader, writer)

	offered uint32 // capabilities offered to the client
	caps    uint32 // capabilities in force on both hops
	user    string // database user
	db      string // current default database

	stmts    map[uint32]*stmt
	lastStmt uint32

	entries []querylog.Entry // results' entries, reused
	shapes  []resultShape
}

// stmt is what the proxy knows of one prepared statement.
type stmt struct {
	text   string
	params int
	// types holds the parameter types of the last execute that sent them
	// (2 bytes per parameter: type, flags), reused when a later execute
	// sets new_params_bound_flag to 0.
	types []byte
	// longData counts the bytes sent with COM_STMT_SEND_LONG_DATA per
	// parameter since the last execute or reset.
	longData map[int]int64
}

// serve runs the connection phase on both sides, then the command phase.
func (m *mconn) serve(ctx context.Context) error {
	cfg := m.s.p.cfg
	m.cr = newPacketReader(bufio.NewReaderSize(m.client, cfg.BufferSize), cfg.MaxPayload)
	m.cw = newPacketWriter(bufio.NewWriterSize(m.client, cfg.BufferSize))
	start := m.s.clock()
	deadline := time.Now().Add(cfg.LoginTimeout)
	m.client.SetDeadline(deadline)
	m.server.SetDeadline(deadline)

	sc, g, err := dialServer(m.server, cfg.BufferSize, cfg.MaxPayload)
	if err != nil {
		var ep *errPacket
		if errors.As(err, &ep) {
			m.cw.write(0, errPayload(ep.code, ep.state, ep.message))
			m.cw.flush()
		}
		return m.fail(start, fmt.Errorf("database %s: %w", m.s.info.Target.Address, err))
	}
	h, seq, err := m.acceptClient(g)
	if err != nil {
		return m.fail(start, err)
	}
	m.caps = h.caps & m.offered
	user, password, err := m.s.cfg.credentials(m.s.info.Open.Login, h.user)
	if err != nil {
		return m.fail(start, m.refuseClient(seq, 1045, "28000", err))
	}
	m.user = user
	db := h.database
	if db == "" {
		db = m.s.cfg.Database
	}
	m.db = db
	lp := m.s.loginParams(user, password, db)
	lp.caps, lp.maxPacket, lp.charset, lp.attrs = m.caps, h.maxPacket, h.charset, h.attrs
	lctx, cancel := context.WithDeadline(ctx, deadline)
	ok, err := sc.login(lctx, g, lp)
	cancel()
	if err != nil {
		var ep *errPacket
		if errors.As(err, &ep) {
			m.cw.write(seq, errPayload(ep.code, ep.state, ep.message))
			m.cw.flush()
		} else {
			m.refuseClient(seq, 1105, "HY000", fmt.Errorf("onepam: log in to the database as %q: %v", user, err))
		}
		return m.fail(start, fmt.Errorf("log in to database %s as %q: %w", m.s.info.Target.Address, user, err))
	}
	m.sc = sc
	m.mu.Lock()
	m.server = sc.conn // the TLS connection when TLS is on
	m.mu.Unlock()
	if _, err := m.cw.write(seq, ok); err != nil {
		return err
	}
	if err := m.cw.flush(); err != nil {
		return err
	}
	m.client.SetDeadline(time.Time{})
	sc.conn.SetDeadline(time.Time{})
	sc.rc = relay.SyscallConn(sc.conn)
	end := m.s.clock()
	if err := m.s.record(querylog.Entry{T: m.s.since(start), Conn: int(m.id), Database: m.db, User: m.user,
		Kind: kindConnect, Duration: end.Sub(start).Seconds(), Rows: -1}); err != nil {
		return err
	}
	m.stmts = map[uint32]*stmt{}
	return m.commands()
}

// fail records err as an error entry of this connection and returns it.
func (m *mconn) fail(start time.Time, err error) error {
	e := querylog.Entry{T: m.s.since(start), Conn: int(m.id), Database: m.db, User: m.user,
		Kind: querylog.KindError, Rows: -1, Error: err.Error()}
	var ep *errPacket
	if errors.As(err, &ep) {
		e.ErrorCode = strconv.Itoa(int(ep.code))
	}
	if rerr := m.s.record(e); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// entry starts a log entry of this connection at t.
func (m *mconn) entry(t time.Time, kind querylog.Kind) querylog.Entry {
	return querylog.Entry{T: m.s.since(t), Conn: int(m.id), Database: m.db, User: m.user, Kind: kind, Rows: -1}
}
