package postgres

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/onepam/onepam/recordfmt/querylog"
)

// errTerminated ends the client loop after a Terminate message.
var errTerminated = errors.New("client terminated the connection")

// kinds of requests awaiting the server's answer.
type pendingKind uint8

const (
	pQuery pendingKind = iota
	pParse
	pBind
	pExecute
	pDescribe
	pClose
	pSync
	pFunc
)

// pending is one request sent to the server. The server answers requests
// in order, so the queue's head is what the next answer is about.
type pending struct {
	kind      pendingKind
	objType   byte // describe, close: 'S' statement or 'P' portal
	start     time.Time
	name      string // statement name
	portal    string
	text      string
	stmts     []string // query: its statements
	idx       int      // query: the statement whose result comes next
	params    []any
	rows      int64
	copyKind  querylog.Kind
	copyBytes int64
}

// prepared is a statement prepared with Parse.
type prepared struct {
	text string
	oids []uint32
}

// portal is a statement bound to parameters.
type portal struct {
	stmt   string
	text   string
	params []any
}

func (pc *pgConn) push(p *pending) {
	pc.mu.Lock()
	pc.queue = append(pc.queue, p)
	pc.mu.Unlock()
}

// head returns the oldest request; pc.mu held.
func (pc *pgConn) head() *pending {
	if len(pc.queue) == 0 {
		return nil
	}
	return pc.queue[0]
}

// pop removes the oldest request; pc.mu held.
func (pc *pgConn) pop() {
	pc.queue[0] = nil
	pc.queue = pc.queue[1:]
	if len(pc.queue) == 0 {
		pc.queue = pc.queue[:0:0]
	}
}

// running returns the statement the connection is running, for a cancel.
func (pc *pgConn) running() string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for _, p := range pc.queue {
		if p.kind == pQuery || p.kind == pExecute {
			if p.kind == pQuery && p.idx < len(p.stmts) {
				return p.stmts[p.idx]
			}
			return p.text
		}
	}
	return ""
}

// clientLoop reads the client's messages, notes what the log needs and
// forwards them to the server unchanged.
func (pc *pgConn) clientLoop(cr *msgReader, sw *bufio.Writer) error {
	for {
		typ, n, err := cr.header()
		if err != nil {
			if errors.Is(err, errMalformed) {
				return pc.malformed("client", err)
			}
			return err
		}
		switch typ {
		case 'Q', 'P', 'B', 'E', 'D', 'C', 'F':
			body, err := cr.readBody(typ, n)
			if err != nil {
				if errors.Is(err, errMalformed) {
					return pc.malformed("client", err)
				}
				return err
			}
			if err := pc.request(typ, body); err != nil {
				return pc.malformed("client", fmt.Errorf("%w: %q message: %v", errMalformed, typ, err))
			}
			err = cr.forward(sw, body)
		case 'S':
			pc.push(&pending{kind: pSync})
			err = cr.copyBody(sw, n)
		case 'd':
			pc.mu.Lock()
			if pc.copyIn != nil {
				pc.copyIn.copyBytes += int64(n)
			}
			pc.mu.Unlock()
			err = cr.copyBody(sw, n)
		case 'X':
			e := pc.entry(querylog.KindQuit, pc.s.info.Clock())
			if err := cr.copyBody(sw, n); err != nil {
				return err
			}
			sw.Flush()
			if rerr := pc.s.record(e); rerr != nil {
				return rerr
			}
			return errTerminated
		default:
			err = cr.copyBody(sw, n)
		}
		if err != nil {
			return err
		}
		if cr.idle() {
			if err := sw.Flush(); err != nil {
				return err
			}
		}
	}
}

// malformed records bytes that are not the protocol, tells the client and
// returns the error that ends the connection.
func (pc *pgConn) malformed(side string, err error) error {
	err = fmt.Errorf("%s sent a malformed message: %w", side, err)
	pc.fatal("08P01", err.Error())
	return pc.failed(err)
}

// request notes one client request in the queue before it is forwarded.
func (pc *pgConn) request(typ byte, body []byte) error {
	p := &pending{start: pc.s.info.Clock()}
	switch typ {
	case 'Q':
		var m pgproto3.Query
		if err := m.Decode(body); err != nil {
			return err
		}
		p.kind, p.text = pQuery, m.String
		p.stmts = splitStatements(m.String)
	case 'P':
		var m pgproto3.Parse
		if err := m.Decode(body); err != nil {
			return err
		}
		p.kind, p.name, p.text = pParse, m.Name, m.Query
		pc.mu.Lock()
		pc.stmts[m.Name] = &prepared{text: m.Query, oids: append([]uint32(nil), m.ParameterOIDs...)}
		pc.mu.Unlock()
	case 'B':
		var m pgproto3.Bind
		if err := m.Decode(body); err != nil {
			return err
		}
		pc.mu.Lock()
		st := pc.stmts[m.PreparedStatement]
		pc.mu.Unlock()
		var oids []uint32
		if st != nil {
			p.text, oids = st.text, st.oids
		}
		p.params = make([]any, len(m.Parameters))
		for i, v := range m.Parameters {
			var oid uint32
			if i < len(oids) {
				oid = oids[i]
			}
			p.params[i] = pc.decodeParam(oid, formatCode(m.ParameterFormatCodes, i), v)
		}
		p.kind, p.name, p.portal = pBind, m.PreparedStatement, m.DestinationPortal
		pc.mu.Lock()
		pc.portals[m.DestinationPortal] = &portal{stmt: m.PreparedStatement, text: p.text, params: p.params}
		pc.mu.Unlock()
	case 'E':
		var m pgproto3.Execute
		if err := m.Decode(body); err != nil {
			return err
		}
		p.kind, p.portal = pExecute, m.Portal
		pc.mu.Lock()
		if pt := pc.portals[m.Portal]; pt != nil {
			p.name, p.text, p.params = pt.stmt, pt.text, pt.params
		}
		pc.mu.Unlock()
	case 'D':
		var m pgproto3.Describe
		if err := m.Decode(body); err != nil {
			return err
		}
		p.kind, p.objType, p.name = pDescribe, m.ObjectType, m.Name
	case 'C':
		var m pgproto3.Close
		if err := m.Decode(body); err != nil {
			return err
		}
		p.kind, p.objType, p.name = pClose, m.ObjectType, m.Name
	case 'F':
		var m pgproto3.FunctionCall
		if err := m.Decode(body); err != nil {
			return err
		}
		p.kind, p.text = pFunc, "function call (oid "+strconv.FormatUint(uint64(m.Function), 10)+")"
		p.params = make([]any, len(m.Arguments))
		for i, v := range m.Arguments {
			p.params[i] = pc.decodeParam(0, formatCode(m.ArgFormatCodes, i), v)
		}
	}
	pc.push(p)
	return nil
}

func formatCode[T int16 | uint16](codes []T, i int) uint16 {
	switch {
	case len(codes) == 0:
		return 0
	case len(codes) == 1:
		return uint16(codes[0])
	case i < len(codes):
		return uint16(codes[i])
	}
	return 0
}

// serverLoop reads the server's messages, logs the results of requests
// and forwards them to the client unchanged.
func (pc *pgConn) serverLoop(sr *msgReader, cw *bufio.Writer) error {
	for {
		typ, n, err := sr.header()
		if err != nil {
			if errors.Is(err, errMalformed) {
				return pc.malformed("server", err)
			}
			return err
		}
		switch typ {
		case 'D', 'd':
			pc.mu.Lock()
			if h := pc.head(); h != nil {
				if typ == 'D' {
					h.rows++
				} else {
					h.copyBytes += int64(n)
				}
			}
			pc.mu.Unlock()
			err = sr.copyBody(cw, n)
		case 'C', 'E', 't':
			var body []byte
			if body, err = sr.readBody(typ, n); err != nil {
				if errors.Is(err, errMalformed) {
					return pc.malformed("server", err)
				}
				return err
			}
			e, ok := pc.response(typ, body)
			if err = sr.forward(cw, body); err == nil && ok {
				err = pc.s.record(e)
			}
		case '1', '2', '3', 'T', 'n', 'I', 's', 'G', 'H', 'W', 'Z', 'V':
			e, ok := pc.response(typ, nil)
			if err = sr.copyBody(cw, n); err == nil && ok {
				err = pc.s.record(e)
			}
		default: // notices, notifications, parameter status: passed through
			err = sr.copyBody(cw, n)
		}
		if err != nil {
			return err
		}
		if sr.idle() {
			if err := cw.Flush(); err != nil {
				return err
			}
		}
	}
}

// response updates the queue for one server message and returns the log
// entry it completes, if any.
func (pc *pgConn) response(typ byte, body []byte) (querylog.Entry, bool) {
	now := pc.s.info.Clock()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	h := pc.head()
	is := func(k pendingKind) bool { return h != nil && h.kind == k }
	switch typ {
	case '1': // ParseComplete
		if !is(pParse) {
			break
		}
		pc.pop()
		if h.name != "" {
			e := pc.entry(querylog.KindPrepare, h.start)
			e.Name, e.Statement, e.Duration = h.name, h.text, now.Sub(h.start).Seconds()
			return e, true
		}
	case '2': // BindComplete
		if is(pBind) {
			pc.pop()
		}
	case '3': // CloseComplete
		if !is(pClose) {
			break
		}
		pc.pop()
		if h.objType == 'S' {
			delete(pc.stmts, h.name)
			if h.name != "" {
				e := pc.entry(querylog.KindClose, now)
				e.Name = h.name
				return e, true
			}
		} else {
			delete(pc.portals, h.name)
		}
	case 't': // ParameterDescription
		if is(pDescribe) && h.objType == 'S' {
			var m pgproto3.ParameterDescription
			if m.Decode(body) == nil {
				if st := pc.stmts[h.name]; st != nil {
					st.oids = append([]uint32(nil), m.ParameterOIDs...)
				}
			}
		}
	case 'T', 'n': // RowDescription, NoData
		if is(pDescribe) {
			pc.pop()
		}
	case 'G', 'H', 'W': // CopyIn/Out/BothResponse
		if is(pQuery) || is(pExecute) {
			if typ == 'G' {
				h.copyKind = querylog.KindCopyIn
				pc.copyIn = h
			} else {
				h.copyKind = querylog.KindCopyOut
			}
		}
	case 'C': // CommandComplete
		pc.copyIn = nil
		if is(pQuery) {
			e := pc.statementEntry(h, now)
			e.Tag = cstring(body)
			e.Rows = tagRows(e.Tag, h.rows)
			pc.nextStatement(h, now)
			return e, true
		}
		if is(pExecute) {
			pc.pop()
			e := pc.statementEntry(h, now)
			e.Tag = cstring(body)
			e.Rows = tagRows(e.Tag, h.rows)
			return e, true
		}
	case 'I': // EmptyQueryResponse
		if is(pQuery) {
			pc.nextStatement(h, now)
		} else if is(pExecute) {
			pc.pop()
		}
	case 's': // PortalSuspended: Execute with a row limit
		if is(pExecute) {
			pc.pop()
			e := pc.statementEntry(h, now)
			e.Rows = h.rows
			e.Tag = "(suspended)"
			return e, true
		}
	case 'V': // FunctionCallResponse
		if is(pFunc) {
			e := pc.statementEntry(h, now)
			return e, true
		}
	case 'E':
		pc.copyIn = nil
		var m pgproto3.ErrorResponse
		if err := m.Decode(body); err != nil {
			m.Message = "malformed error response: " + err.Error()
		}
		var e querylog.Entry
		switch {
		case is(pQuery):
			e = pc.statementEntry(h, now)
			h.idx = len(h.stmts) // the rest of the query does not run
		case h != nil && h.kind != pSync:
			e = pc.statementEntry(h, now)
			switch h.kind {
			case pParse:
				e.Kind = querylog.KindPrepare
				delete(pc.stmts, h.name)
			case pBind:
				e.Kind = querylog.KindBind
			case pDescribe, pClose:
				e.Kind = querylog.KindError
			}
			// The server skips every message up to the next Sync.
			for h := pc.head(); h != nil && h.kind != pSync; h = pc.head() {
				pc.pop()
			}
		default:
			e = pc.entry(querylog.KindError, now)
		}
		e.ErrorCode, e.Error = m.Code, m.Message
		return e, true
	case 'Z': // ReadyForQuery
		for h := pc.head(); h != nil; h = pc.head() {
			pc.pop()
			if h.kind == pSync || h.kind == pQuery || h.kind == pFunc {
				break
			}
		}
	}
	return querylog.Entry{}, false
}

// statementEntry is the log entry of h's current statement; pc.mu held.
func (pc *pgConn) statementEntry(h *pending, now time.Time) querylog.Entry {
	kind := querylog.KindExecute
	if h.kind == pQuery || h.kind == pFunc {
		kind = querylog.KindQuery
	}
	if h.copyKind != "" {
		kind = h.copyKind
	}
	e := pc.entry(kind, h.start)
	e.Statement = h.text
	if h.kind == pQuery && h.idx < len(h.stmts) {
		e.Statement = h.stmts[h.idx]
	}
	if h.kind != pQuery && h.kind != pParse {
		e.Params = h.params
	}
	if h.kind == pExecute || h.kind == pBind || h.kind == pParse {
		e.Name = h.name
	}
	e.Duration = now.Sub(h.start).Seconds()
	e.Bytes = h.copyBytes
	return e
}

// nextStatement moves a query on to its next statement's result.
func (pc *pgConn) nextStatement(h *pending, now time.Time) {
	h.idx++
	h.rows, h.copyKind, h.copyBytes, h.start = 0, "", 0, now
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// tagRows reads the row count of a command tag ("SELECT 5", "INSERT 0 3",
// "COPY 10"); tags without one count the data rows seen, or -1.
func tagRows(tag string, dataRows int64) int64 {
	if i := lastSpace(tag); i >= 0 {
		if n, err := strconv.ParseInt(tag[i+1:], 10, 64); err == nil {
			return n
		}
	}
	if dataRows > 0 {
		return dataRows
	}
	return -1
}

func lastSpace(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ' ' {
			return i
		}
	}
	return -1
}
