package postgres

import (
	"bytes"
	"errors"
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

// response updates the queue for one server message received at now and
// returns the log entry it completes, if any; pc.mu held.
func (pc *pgConn) response(typ byte, body []byte, now time.Time) (querylog.Entry, bool) {
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
