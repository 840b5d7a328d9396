package mysql

import (
	"fmt"
)

// result summarises one result of a command as relayed to the client.
type result struct {
	resultSet bool       // a result set (rows) rather than OK or ERR
	rows      int64      // rows returned (result set) or affected (OK); -1 after ERR
	ok        okPacket   // the OK or terminating EOF/OK packet
	err       *errPacket // the server's error, if any
	bytes     int64      // LOAD DATA LOCAL INFILE bytes carried
	more      bool       // SERVER_MORE_RESULTS_EXISTS: another result follows
}

// fromServer reads the next packet from the server.
func (m *mconn) fromServer() ([]byte, byte, error) {
	p, seq, err := m.sc.r.next()
	if err != nil {
		return nil, 0, fmt.Errorf("server: %w", err)
	}
	if len(p) == 0 {
		return nil, 0, fmt.Errorf("server: %w: empty packet in a response", errMalformed)
	}
	return p, seq, nil
}

// toClient forwards one packet to the client, flushing when the server
// has nothing more buffered (so the client never waits on bytes the
// proxy holds, and a stream of rows goes out in large writes).
func (m *mconn) toClient(seq byte, p []byte) error {
	if _, err := m.cw.write(seq, p); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if m.sc.r.buffered() == 0 {
		if err := m.cw.flush(); err != nil {
			return fmt.Errorf("client: %w", err)
		}
	}
	return nil
}

// relayServerPacket reads one packet from the server and forwards it.
func (m *mconn) relayServerPacket() ([]byte, error) {
	p, seq, err := m.fromServer()
	if err != nil {
		return nil, err
	}
	return p, m.toClient(seq, p)
}

// relayResult relays one result whose first packet has been read (not yet
// forwarded): an OK, an ERR, a LOCAL INFILE request (text protocol) or a
// result set (text or binary rows). A result set whose metadata ends with
// SERVER_STATUS_CURSOR_EXISTS (COM_STMT_EXECUTE with a cursor) ends there:
// its rows come with COM_STMT_FETCH.
func (m *mconn) relayResult(p []byte, seq byte) (result, error) {
	switch p[0] {
	case hdrOK:
		if err := m.toClient(seq, p); err != nil {
			return result{}, err
		}
		ok, err := parseOK(p, m.caps)
		if err != nil {
			return result{}, fmt.Errorf("server: %w", err)
		}
		return result{rows: int64(ok.affected), ok: ok, more: ok.status&statusMoreResults != 0}, nil
	case hdrErr:
		if err := m.toClient(seq, p); err != nil {
			return result{}, err
		}
		return result{rows: -1, err: parseErr(p)}, nil
	case hdrLocalInfile:
		return m.relayLocalInfile(p, seq)
	case hdrEOF:
		if len(p) < 9 {
			return result{}, fmt.Errorf("server: %w: EOF packet where a result was due", errMalformed)
		}
	}
	r := reader{b: p}
	cols, null := r.lenenc("column count")
	if r.err != nil || null || len(r.b) != 0 || cols == 0 || cols > 1<<16 {
		return result{}, fmt.Errorf("server: %w: bad result set header (% x)", errMalformed, p[:min(len(p), 9)])
	}
	if err := m.toClient(seq, p); err != nil {
		return result{}, err
	}
	for range cols {
		if _, err := m.relayServerPacket(); err != nil {
			return result{}, err
		}
	}
	res := result{resultSet: true}
	if m.caps&capDeprecateEOF == 0 {
		p, err := m.relayServerPacket()
		if err != nil {
			return result{}, err
		}
		if !isEOF(p, m.caps) {
			return result{}, fmt.Errorf("server: %w: no EOF after the column definitions", errMalformed)
		}
		st, ok := eofStatus(p, m.caps)
		if st&statusCursorExists != 0 {
			res.ok, res.more = ok, st&statusMoreResults != 0
			return res, nil
		}
	}
	for {
		if err := m.relayRows(&res); err != nil {
			return result{}, err
		}
		p, err := m.relayServerPacket()
		if err != nil {
			return result{}, err
		}
		switch {
		case p[0] == hdrErr:
			res.err, res.rows = parseErr(p), -1
			return res, nil
		case isEOF(p, m.caps):
			st, ok := eofStatus(p, m.caps)
			res.ok, res.more = ok, st&statusMoreResults != 0
			return res, nil
		}
		res.rows++
	}
}

// relayRows forwards the whole row packets at the start of the server's
// read buffer in one piece, without decoding or copying them one by one,
// and counts them. It stops at what needs a closer look (see rowsSpan),
// which the caller reads with relayServerPacket. When the buffer is
// drained the client is flushed, since the next read may wait.
func (m *mconn) relayRows(res *result) error {
	br := m.sc.r.r
	buf, _ := br.Peek(br.Buffered())
	n, rows := rowsSpan(buf, m.caps)
	if n == 0 {
		return nil
	}
	if _, err := m.cw.w.Write(buf[:n]); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	br.Discard(n)
	res.rows += rows
	if br.Buffered() == 0 {
		return m.flushClient()
	}
	return nil
}

// rowsSpan returns the length of the run of whole row packets at the
// start of buf and their number. It stops before a packet that is not all
// in buf, an empty or split (0xffffff-byte) one, and a row stream's end
// (ERR, EOF, or OK with CLIENT_DEPRECATE_EOF): isEOF and the ERR header,
// judged on the header and first byte.
func rowsSpan(buf []byte, caps uint32) (n int, rows int64) {
	for len(buf)-n >= 5 {
		l := int(buf[n]) | int(buf[n+1])<<8 | int(buf[n+2])<<16
		if l == 0 || l >= maxPacketChunk || n+4+l > len(buf) {
			break
		}
		if first := buf[n+4]; first == hdrErr || first == hdrEOF && (l < 9 || caps&capDeprecateEOF != 0) {
			break
		}
		n += 4 + l
		rows++
	}
	return n, rows
}

// relayLocalInfile carries LOAD DATA LOCAL INFILE: the server's request
// (p) to the client, the file's packets back to the server up to the
// empty one, then the server's answer.
func (m *mconn) relayLocalInfile(p []byte, seq byte) (result, error) {
	if err := m.toClient(seq, p); err != nil {
		return result{}, err
	}
	if err := m.cw.flush(); err != nil {
		return result{}, fmt.Errorf("client: %w", err)
	}
	var n int64
	for {
		d, dseq, err := m.cr.next()
		if err != nil {
			return result{}, fmt.Errorf("client (LOCAL INFILE data): %w", err)
		}
		n += int64(len(d))
		if _, err := m.sc.w.write(dseq, d); err != nil {
			return result{}, fmt.Errorf("server: %w", err)
		}
		if len(d) == 0 || m.cr.buffered() == 0 {
			if err := m.sc.w.flush(); err != nil {
				return result{}, fmt.Errorf("server: %w", err)
			}
		}
		if len(d) == 0 {
			break
		}
	}
	p, seq, err := m.fromServer()
	if err != nil {
		return result{}, err
	}
	if p[0] != hdrOK && p[0] != hdrErr {
		return result{}, fmt.Errorf("server: %w: answer 0x%02x to LOCAL INFILE data", errMalformed, p[0])
	}
	res, err := m.relayResult(p, seq)
	res.bytes = n
	return res, err
}
