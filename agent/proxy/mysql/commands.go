package mysql

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/onepam/onepam/recordfmt/querylog"
)

// Query log kinds this proxy adds to querylog's (readers accept unknown
// kinds).
const (
	kindFetch     querylog.Kind = "fetch"      // COM_STMT_FETCH: rows of a cursor
	kindFieldList querylog.Kind = "field_list" // COM_FIELD_LIST: a table's columns
	kindCommand   querylog.Kind = "command"    // another administrative command (COM_STATISTICS, COM_PROCESS_KILL, ...)
)

// errQuit ends the command loop after COM_QUIT.
var errQuit = errors.New("client quit")

// commands relays the command phase until the client quits or either side
// ends or breaks the connection.
func (m *mconn) commands() error {
	for {
		p, seq, err := m.cr.next()
		t := m.s.clock()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if m.s.conns.Closing() {
				return m.fail(t, errors.New("the session ended: the agent closed the connection"))
			}
			return m.fail(t, fmt.Errorf("client: %w", err))
		}
		if len(p) == 0 {
			return m.fail(t, fmt.Errorf("client: %w: empty command packet", errMalformed))
		}
		if err := m.command(t, p, seq); err != nil {
			if errors.Is(err, errQuit) {
				return nil
			}
			if m.s.conns.Closing() {
				err = fmt.Errorf("the session ended: the agent closed the connection (%w)", err)
			}
			return m.fail(t, err)
		}
	}
}

// command relays one command and its response and logs it.
func (m *mconn) command(t time.Time, p []byte, seq byte) error {
	switch p[0] {
	case comQuery:
		return m.query(t, p, seq)
	case comStmtPrepare:
		return m.prepare(t, p, seq)
	case comStmtExecute:
		return m.execute(t, p, seq)
	case comStmtFetch:
		return m.fetch(t, p, seq)
	case comStmtSendLongData:
		return m.sendLongData(p, seq)
	case comStmtClose:
		return m.closeStmt(t, p, seq)
	case comStmtReset:
		id, st, err := m.stmtOf(p, seq)
		if err != nil {
			return err
		}
		e := m.entry(t, querylog.KindReset)
		e.Name = strconv.FormatUint(uint64(id), 10)
		if st != nil {
			e.Statement = st.text
			st.longData = nil
		}
		return m.single(t, p, seq, e)
	case comInitDB:
		e := m.entry(t, querylog.KindInitDB)
		name := string(p[1:])
		e.Statement = name
		res, err := m.singleResult(p, seq)
		if err != nil {
			return err
		}
		if res.err == nil {
			m.db = name
			e.Database = name
		}
		return m.log(t, e, res)
	case comPing:
		return m.single(t, p, seq, m.entry(t, querylog.KindPing))
	case comQuit:
		m.sc.w.write(seq, p)
		m.sc.w.flush()
		if err := m.s.record(m.entry(t, querylog.KindQuit)); err != nil {
			return err
		}
		return errQuit
	case comFieldList:
		return m.fieldList(t, p, seq)
	case comResetConnection:
		e := m.entry(t, querylog.KindReset)
		e.Statement = "COM_RESET_CONNECTION"
		res, err := m.singleResult(p, seq)
		if err != nil {
			return err
		}
		if res.err == nil {
			clear(m.stmts)
		}
		return m.log(t, e, res)
	case comStatistics, comProcessInfo, comProcessKill, comRefresh, comShutdown, comDebug, comSetOption, comCreateDB, comDropDB:
		return m.admin(t, p, seq)
	}
	// COM_CHANGE_USER would log in again with the client's credentials;
	// replication and the obsolete commands have no place here.
	msg := fmt.Sprintf("command 0x%02x is not available through OnePAM", p[0])
	if p[0] == comChangeUser {
		msg = "COM_CHANGE_USER is not available through OnePAM: the agent logs in to the database; open a new connection instead"
	}
	m.cw.write(m.cr.last+1, errPayload(1047, "08S01", msg))
	if err := m.cw.flush(); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	e := m.entry(t, querylog.KindError)
	e.ErrorCode, e.Error = "1047", msg
	return m.s.record(e)
}

// toServer forwards a client command to the server and waits until the
// answer can be read.
func (m *mconn) toServer(seq byte, p []byte) error {
	if _, err := m.sc.w.write(seq, p); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := m.sc.flushAwait(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// singleResult forwards a command whose answer is one OK, ERR or EOF
// packet and relays that answer.
func (m *mconn) singleResult(p []byte, seq byte) (result, error) {
	if err := m.toServer(seq, p); err != nil {
		return result{}, err
	}
	rp, rseq, err := m.fromServer()
	if err != nil {
		return result{}, err
	}
	var res result
	switch rp[0] {
	case hdrOK:
		ok, err := parseOK(rp, m.caps)
		if err != nil {
			return result{}, fmt.Errorf("server: %w", err)
		}
		res = result{rows: int64(ok.affected), ok: ok}
	case hdrErr:
		res = result{rows: -1, err: parseErr(rp)}
	case hdrEOF:
		res = result{rows: -1}
	default:
		return result{}, fmt.Errorf("server: %w: answer 0x%02x where OK or ERR was due", errMalformed, rp[0])
	}
	if err := m.toClient(rseq, rp); err != nil {
		return result{}, err
	}
	return res, m.flushClient()
}

// single is singleResult followed by logging e.
func (m *mconn) single(t time.Time, p []byte, seq byte, e querylog.Entry) error {
	res, err := m.singleResult(p, seq)
	if err != nil {
		return err
	}
	return m.log(t, e, res)
}

func (m *mconn) flushClient() error {
	if err := m.cw.flush(); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return nil
}

// log completes e with res and the time since t, and records it.
func (m *mconn) log(t time.Time, e querylog.Entry, res result) error {
	fill(&e, res, m.s.clock().Sub(t))
	return m.s.record(e)
}

func fill(e *querylog.Entry, res result, d time.Duration) {
	e.Duration = d.Seconds()
	e.Rows = res.rows
	e.Bytes = res.bytes
	if res.err != nil {
		e.ErrorCode = strconv.Itoa(int(res.err.code))
		e.Error = res.err.message
		e.Rows = -1
	}
}

// results relays the results of a COM_QUERY or COM_STMT_EXECUTE up to the
// last one (no SERVER_MORE_RESULTS_EXISTS), making one entry per result
// from base. Each entry's duration runs from the end of the previous
// result (the command, for the first).
//
// The slices returned are the connection's, reused by the next call.
func (m *mconn) results(t time.Time, base querylog.Entry) ([]querylog.Entry, []resultShape, error) {
	clear(m.entries)
	entries, shapes := m.entries[:0], m.shapes[:0]
	defer func() { m.entries, m.shapes = entries, shapes }()
	start := t
	for {
		rp, rseq, err := m.fromServer()
		if err != nil {
			return nil, nil, err
		}
		res, err := m.relayResult(rp, rseq)
		if err != nil {
			return nil, nil, err
		}
		end := m.s.clock()
		e := base
		e.T = m.s.since(start)
		e.Database = m.db
		fill(&e, res, end.Sub(start))
		entries = append(entries, e)
		shapes = append(shapes, resultShape{set: res.resultSet, failed: res.err != nil})
		if res.ok.schema != "" {
			m.db = res.ok.schema
		}
		if !res.more || res.err != nil {
			return entries, shapes, m.flushClient()
		}
		start = end
	}
}

// query relays COM_QUERY: one entry per result, each labelled with its
// statement of a multi-statement query.
func (m *mconn) query(t time.Time, p []byte, seq byte) error {
	q := clipText(p[1:], querylog.MaxStatementLen)
	if err := m.toServer(seq, p); err != nil {
		return err
	}
	entries, shapes, err := m.results(t, m.entry(t, querylog.KindQuery))
	if err != nil {
		return err
	}
	if len(entries) == 1 {
		entries[0].Statement = strings.TrimSpace(q) // as labelResults labels one result
	} else {
		for i, l := range labelResults(q, shapes) {
			entries[i].Statement = l
		}
	}
	for i := range entries {
		if err := m.s.record(entries[i]); err != nil {
			return err
		}
	}
	if m.caps&capSessionTrack == 0 && len(entries) == 1 && !shapes[0].failed {
		if db, ok := useStatement(entries[0].Statement); ok {
			m.db = db
		}
	}
	return nil
}

// useStatement recognises "USE db" (for servers that do not report schema
// changes in OK packets).
func useStatement(s string) (string, bool) {
	s = strings.TrimRight(strings.TrimSpace(s), "; \t\r\n")
	if len(s) < 5 || !strings.EqualFold(s[:3], "use") || (s[3] != ' ' && s[3] != '\t' && s[3] != '\n') {
		return "", false
	}
	db := strings.TrimSpace(s[4:])
	if len(db) >= 2 && db[0] == '`' && db[len(db)-1] == '`' {
		db = strings.ReplaceAll(db[1:len(db)-1], "``", "`")
	}
	return db, db != ""
}

// prepare relays COM_STMT_PREPARE and remembers the statement.
func (m *mconn) prepare(t time.Time, p []byte, seq byte) error {
	text := clipText(p[1:], querylog.MaxStatementLen)
	if err := m.toServer(seq, p); err != nil {
		return err
	}
	e := m.entry(t, querylog.KindPrepare)
	e.Statement = text
	rp, rseq, err := m.fromServer()
	if err != nil {
		return err
	}
	var res result
	switch rp[0] {
	case hdrErr:
		res = result{rows: -1, err: parseErr(rp)}
		if err := m.toClient(rseq, rp); err != nil {
			return err
		}
	case hdrOK:
		r := reader{b: rp[1:]}
		id := r.u32("statement id")
		cols := r.u16("column count")
		params := r.u16("parameter count")
		if r.err != nil {
			return fmt.Errorf("server: prepare: %w", r.err)
		}
		if err := m.toClient(rseq, rp); err != nil {
			return err
		}
		for _, n := range []uint16{params, cols} {
			if n == 0 {
				continue
			}
			for range n {
				if _, err := m.relayServerPacket(); err != nil {
					return err
				}
			}
			if m.caps&capDeprecateEOF == 0 {
				ep, err := m.relayServerPacket()
				if err != nil {
					return err
				}
				if !isEOF(ep, m.caps) {
					return fmt.Errorf("server: prepare: %w: no EOF after the definitions", errMalformed)
				}
			}
		}
		m.stmts[id] = &stmt{text: text, params: int(params)}
		m.lastStmt = id
		e.Name = strconv.FormatUint(uint64(id), 10)
		res.rows = -1
	default:
		return fmt.Errorf("server: prepare: %w: answer 0x%02x", errMalformed, rp[0])
	}
	if err := m.flushClient(); err != nil {
		return err
	}
	return m.log(t, e, res)
}

// stmtOf reads the statement id that starts a COM_STMT_* payload.
func (m *mconn) stmtOf(p []byte, seq byte) (uint32, *stmt, error) {
	r := reader{b: p[1:]}
	id := r.u32("statement id")
	if r.err != nil {
		return 0, nil, m.malformed(fmt.Errorf("client: command 0x%02x: %w", p[0], r.err))
	}
	if id == 0xffffffff { // MariaDB: the statement prepared last
		id = m.lastStmt
	}
	return id, m.stmts[id], nil
}

// malformed answers a malformed client command with an ERR and returns
// err, which ends the connection.
func (m *mconn) malformed(err error) error {
	m.refuseClient(m.cr.last+1, 1835, "08S01", err)
	return err
}

// execute relays COM_STMT_EXECUTE with its parameters decoded for the log.
func (m *mconn) execute(t time.Time, p []byte, seq byte) error {
	id, st, err := m.stmtOf(p, seq)
	if err != nil {
		return err
	}
	r := reader{b: p[5:]}
	r.u8("flags")
	r.u32("iteration count")
	if r.err != nil {
		return m.malformed(fmt.Errorf("client: execute: %w", r.err))
	}
	e := m.entry(t, querylog.KindExecute)
	e.Name = strconv.FormatUint(uint64(id), 10)
	if st != nil {
		e.Statement = st.text
		params, err := decodeParams(&r, st)
		if err != nil {
			return m.malformed(fmt.Errorf("client: execute of statement %d: %w", id, err))
		}
		e.Params = params
		st.longData = nil
	}
	if err := m.toServer(seq, p); err != nil {
		return err
	}
	entries, _, err := m.results(t, e)
	if err != nil {
		return err
	}
	for i := range entries {
		if i > 0 {
			entries[i].Params = nil
		}
		if err := m.s.record(entries[i]); err != nil {
			return err
		}
	}
	return nil
}

// decodeParams decodes the parameters of an execute of st: NULL bitmap,
// new-params-bound flag, types (or those of the previous execute), values.
func decodeParams(r *reader, st *stmt) ([]any, error) {
	n := st.params
	if n == 0 {
		return nil, nil
	}
	nulls := r.bytes((n+7)/8, "NULL bitmap")
	bound := r.u8("new-params-bound flag")
	if r.err != nil {
		return nil, r.err
	}
	if bound == 1 {
		types := r.bytes(2*n, "parameter types")
		if r.err != nil {
			return nil, r.err
		}
		st.types = append(st.types[:0], types...)
	} else if len(st.types) != 2*n {
		return nil, fmt.Errorf("%w: parameters without types (new-params-bound flag 0 on the first execute)", errMalformed)
	}
	out := make([]any, n)
	for i := range n {
		if nulls[i/8]&(1<<(i%8)) != 0 {
			continue // NULL
		}
		if size, ok := st.longData[i]; ok {
			out[i] = "…[long data " + strconv.FormatInt(size, 10) + " bytes]"
			continue
		}
		v, err := binaryValue(r, st.types[2*i], st.types[2*i+1])
		if err != nil {
			return nil, fmt.Errorf("parameter %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// fetch relays COM_STMT_FETCH: rows of a cursor up to EOF or ERR.
func (m *mconn) fetch(t time.Time, p []byte, seq byte) error {
	id, st, err := m.stmtOf(p, seq)
	if err != nil {
		return err
	}
	if err := m.toServer(seq, p); err != nil {
		return err
	}
	e := m.entry(t, kindFetch)
	e.Name = strconv.FormatUint(uint64(id), 10)
	if st != nil {
		e.Statement = st.text
	}
	var res result
	for {
		rp, err := m.relayServerPacket()
		if err != nil {
			return err
		}
		if rp[0] == hdrErr {
			res.err = parseErr(rp)
			break
		}
		if isEOF(rp, m.caps) {
			break
		}
		res.rows++
	}
	if err := m.flushClient(); err != nil {
		return err
	}
	return m.log(t, e, res)
}

// sendLongData relays COM_STMT_SEND_LONG_DATA (no answer), counting the
// bytes for the next execute's log.
func (m *mconn) sendLongData(p []byte, seq byte) error {
	_, st, err := m.stmtOf(p, seq)
	if err != nil {
		return err
	}
	r := reader{b: p[5:]}
	param := int(r.u16("parameter id"))
	if r.err != nil {
		return m.malformed(fmt.Errorf("client: send long data: %w", r.err))
	}
	if st != nil && param < st.params {
		if st.longData == nil {
			st.longData = map[int]int64{}
		}
		st.longData[param] += int64(len(r.b))
	}
	if _, err := m.sc.w.write(seq, p); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if m.cr.buffered() == 0 {
		if err := m.sc.w.flush(); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	return nil
}

// closeStmt relays COM_STMT_CLOSE (no answer) and forgets the statement.
func (m *mconn) closeStmt(t time.Time, p []byte, seq byte) error {
	id, st, err := m.stmtOf(p, seq)
	if err != nil {
		return err
	}
	if _, err := m.sc.w.write(seq, p); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if m.cr.buffered() == 0 {
		if err := m.sc.w.flush(); err != nil {
			return fmt.Errorf("server: %w", err)
		}
	}
	e := m.entry(t, querylog.KindClose)
	e.Name = strconv.FormatUint(uint64(id), 10)
	if st != nil {
		e.Statement = st.text
		delete(m.stmts, id)
	}
	return m.s.record(e)
}

// fieldList relays COM_FIELD_LIST: column definitions up to EOF, or ERR.
func (m *mconn) fieldList(t time.Time, p []byte, seq byte) error {
	r := reader{b: p[1:]}
	table := string(r.nulString())
	if err := m.toServer(seq, p); err != nil {
		return err
	}
	e := m.entry(t, kindFieldList)
	e.Statement = table
	var res result
	for {
		rp, err := m.relayServerPacket()
		if err != nil {
			return err
		}
		if rp[0] == hdrErr {
			res.err = parseErr(rp)
			break
		}
		if isEOF(rp, m.caps) {
			break
		}
		res.rows++
	}
	if err := m.flushClient(); err != nil {
		return err
	}
	return m.log(t, e, res)
}

// adminNames names the administrative commands in the log.
var adminNames = map[byte]string{
	comStatistics: "COM_STATISTICS", comProcessInfo: "COM_PROCESS_INFO", comProcessKill: "COM_PROCESS_KILL",
	comRefresh: "COM_REFRESH", comShutdown: "COM_SHUTDOWN", comDebug: "COM_DEBUG",
	comSetOption: "COM_SET_OPTION", comCreateDB: "COM_CREATE_DB", comDropDB: "COM_DROP_DB",
}

// admin relays the administrative commands.
func (m *mconn) admin(t time.Time, p []byte, seq byte) error {
	e := m.entry(t, kindCommand)
	e.Statement = adminNames[p[0]]
	r := reader{b: p[1:]}
	switch p[0] {
	case comProcessKill:
		if id := r.u32("connection id"); r.err == nil {
			e.Statement += " " + strconv.FormatUint(uint64(id), 10)
		}
	case comSetOption:
		if o := r.u16("option"); r.err == nil {
			e.Statement += " " + strconv.Itoa(int(o))
		}
	case comCreateDB, comDropDB:
		e.Statement += " " + clipText(p[1:], 1024)
	}
	switch p[0] {
	case comStatistics: // answered by one text packet
		if err := m.toServer(seq, p); err != nil {
			return err
		}
		if _, err := m.relayServerPacket(); err != nil {
			return err
		}
		if err := m.flushClient(); err != nil {
			return err
		}
		return m.log(t, e, result{rows: -1})
	case comProcessInfo: // answered by a result set
		if err := m.toServer(seq, p); err != nil {
			return err
		}
		entries, _, err := m.results(t, e)
		if err != nil {
			return err
		}
		for _, x := range entries {
			if err := m.s.record(x); err != nil {
				return err
			}
		}
		return nil
	}
	return m.single(t, p, seq, e)
}
