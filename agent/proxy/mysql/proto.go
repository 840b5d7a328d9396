package mysql

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Capability flags (Handshake v10 / HandshakeResponse41).
const (
	capLongPassword     uint32 = 1 << 0 // MariaDB: CLIENT_MYSQL, "no extended capabilities"
	capFoundRows        uint32 = 1 << 1
	capLongFlag         uint32 = 1 << 2
	capConnectWithDB    uint32 = 1 << 3
	capNoSchema         uint32 = 1 << 4
	capCompress         uint32 = 1 << 5
	capODBC             uint32 = 1 << 6
	capLocalFiles       uint32 = 1 << 7
	capIgnoreSpace      uint32 = 1 << 8
	capProtocol41       uint32 = 1 << 9
	capInteractive      uint32 = 1 << 10
	capSSL              uint32 = 1 << 11
	capIgnoreSigpipe    uint32 = 1 << 12
	capTransactions     uint32 = 1 << 13
	capReserved         uint32 = 1 << 14
	capSecureConnection uint32 = 1 << 15
	capMultiStatements  uint32 = 1 << 16
	capMultiResults     uint32 = 1 << 17
	capPSMultiResults   uint32 = 1 << 18
	capPluginAuth       uint32 = 1 << 19
	capConnectAttrs     uint32 = 1 << 20
	capPluginAuthLenenc uint32 = 1 << 21
	capExpiredPasswords uint32 = 1 << 22
	capSessionTrack     uint32 = 1 << 23
	capDeprecateEOF     uint32 = 1 << 24
)

// relayCaps are the capabilities the proxy can carry unchanged between the
// client and the server. Left out: compression, TLS (the person→agent hop
// is already TLS), and MySQL 8's query attributes, optional metadata and
// zstd, which change the packet formats the proxy decodes.
const relayCaps = capLongPassword | capFoundRows | capLongFlag | capConnectWithDB |
	capNoSchema | capODBC | capLocalFiles | capIgnoreSpace | capProtocol41 |
	capInteractive | capIgnoreSigpipe | capTransactions | capReserved |
	capSecureConnection | capMultiStatements | capMultiResults |
	capPSMultiResults | capPluginAuth | capConnectAttrs | capPluginAuthLenenc |
	capExpiredPasswords | capSessionTrack | capDeprecateEOF

// Server status flags (OK and EOF packets).
const (
	statusAutocommit         uint16 = 0x0002
	statusMoreResults        uint16 = 0x0008
	statusCursorExists       uint16 = 0x0040
	statusSessionStateChange uint16 = 0x4000
)

// Commands (the first byte of a command packet).
const (
	comSleep            byte = 0x00
	comQuit             byte = 0x01
	comInitDB           byte = 0x02
	comQuery            byte = 0x03
	comFieldList        byte = 0x04
	comCreateDB         byte = 0x05
	comDropDB           byte = 0x06
	comRefresh          byte = 0x07
	comShutdown         byte = 0x08
	comStatistics       byte = 0x09
	comProcessInfo      byte = 0x0a
	comConnect          byte = 0x0b
	comProcessKill      byte = 0x0c
	comDebug            byte = 0x0d
	comPing             byte = 0x0e
	comChangeUser       byte = 0x11
	comStmtPrepare      byte = 0x16
	comStmtExecute      byte = 0x17
	comStmtSendLongData byte = 0x18
	comStmtClose        byte = 0x19
	comStmtReset        byte = 0x1a
	comSetOption        byte = 0x1b
	comStmtFetch        byte = 0x1c
	comResetConnection  byte = 0x1f
)

// Response packet headers.
const (
	hdrOK          byte = 0x00
	hdrAuthMore    byte = 0x01
	hdrLocalInfile byte = 0xfb
	hdrEOF         byte = 0xfe
	hdrErr         byte = 0xff
)

// Auth plugin names.
const (
	pluginNative        = "mysql_native_password"
	pluginCachingSHA2   = "caching_sha2_password"
	pluginEd25519       = "client_ed25519"
	pluginClearPassword = "mysql_clear_password"
	pluginSHA256        = "sha256_password"
)

// errMalformed marks a packet that does not parse.
var errMalformed = errors.New("malformed packet")

// reader decodes the fields of one payload with bounds checks; the first
// failure sticks in err and later reads return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated %s", errMalformed, what)
	}
	r.b = nil
}

func (r *reader) u8(what string) byte {
	if len(r.b) < 1 {
		r.fail(what)
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16(what string) uint16 {
	if len(r.b) < 2 {
		r.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) u32(what string) uint32 {
	if len(r.b) < 4 {
		r.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) u64(what string) uint64 {
	if len(r.b) < 8 {
		r.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) bytes(n int, what string) []byte {
	if n < 0 || len(r.b) < n {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// nulString reads a NUL-terminated string; a missing NUL takes the rest.
func (r *reader) nulString() []byte {
	for i, c := range r.b {
		if c == 0 {
			v := r.b[:i:i]
			r.b = r.b[i+1:]
			return v
		}
	}
	v := r.b
	r.b = nil
	return v
}

// lenenc reads a length-encoded integer; null reports the 0xfb NULL marker.
func (r *reader) lenenc(what string) (v uint64, null bool) {
	c := r.u8(what)
	switch {
	case c < 0xfb:
		return uint64(c), false
	case c == 0xfb:
		return 0, true
	case c == 0xfc:
		return uint64(r.u16(what)), false
	case c == 0xfd:
		if len(r.b) < 3 {
			r.fail(what)
			return 0, false
		}
		v := uint64(r.b[0]) | uint64(r.b[1])<<8 | uint64(r.b[2])<<16
		r.b = r.b[3:]
		return v, false
	case c == 0xfe:
		return r.u64(what), false
	}
	r.fail(what) // 0xff is not a length
	return 0, false
}

// lenencString reads a length-encoded string.
func (r *reader) lenencString(what string) []byte {
	n, null := r.lenenc(what)
	if null || r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	return r.bytes(int(n), what)
}

// appendLenenc appends v as a length-encoded integer.
func appendLenenc(b []byte, v uint64) []byte {
	switch {
	case v < 0xfb:
		return append(b, byte(v))
	case v <= 0xffff:
		return append(b, 0xfc, byte(v), byte(v>>8))
	case v <= 0xffffff:
		return append(b, 0xfd, byte(v), byte(v>>8), byte(v>>16))
	}
	return binary.LittleEndian.AppendUint64(append(b, 0xfe), v)
}

// appendLenencString appends s with its length-encoded length.
func appendLenencString(b []byte, s []byte) []byte {
	return append(appendLenenc(b, uint64(len(s))), s...)
}

// okPacket is the decoded part of an OK packet (or an EOF-as-OK packet
// with CLIENT_DEPRECATE_EOF).
type okPacket struct {
	affected uint64
	insertID uint64
	status   uint16
	warnings uint16
	// schema is the new default database when the server reported a
	// schema change (session tracking); "" otherwise.
	schema string
}

// parseOK decodes an OK packet (header 0x00 or 0xfe) under caps.
func parseOK(p []byte, caps uint32) (okPacket, error) {
	r := reader{b: p[1:]}
	var ok okPacket
	ok.affected, _ = r.lenenc("OK affected rows")
	ok.insertID, _ = r.lenenc("OK last insert id")
	if caps&capProtocol41 != 0 {
		ok.status = r.u16("OK status")
		ok.warnings = r.u16("OK warnings")
	} else if caps&capTransactions != 0 {
		ok.status = r.u16("OK status")
	}
	if r.err != nil {
		return ok, r.err
	}
	if caps&capSessionTrack == 0 || len(r.b) == 0 {
		return ok, nil
	}
	r.lenencString("OK info")
	if ok.status&statusSessionStateChange == 0 || r.err != nil {
		return ok, nil // the info is free text; nothing else to read
	}
	st := reader{b: r.lenencString("OK session state")}
	for r.err == nil && st.err == nil && len(st.b) > 0 {
		typ := st.u8("session state type")
		data := reader{b: st.lenencString("session state data")}
		if typ == 1 && st.err == nil { // SESSION_TRACK_SCHEMA
			if s := data.lenencString("schema"); data.err == nil {
				ok.schema = string(s)
			}
		}
	}
	return ok, nil
}

// parseEOF decodes a pre-4.1-style EOF packet (header 0xfe, < 9 bytes).
func parseEOF(p []byte) (warnings, status uint16) {
	if len(p) >= 5 {
		warnings = binary.LittleEndian.Uint16(p[1:])
		status = binary.LittleEndian.Uint16(p[3:])
	}
	return warnings, status
}

// isEOF reports whether p ends a row stream: an EOF packet (0xfe, < 9
// bytes) or, with CLIENT_DEPRECATE_EOF, an OK packet with header 0xfe.
func isEOF(p []byte, caps uint32) bool {
	if len(p) == 0 || p[0] != hdrEOF {
		return false
	}
	if caps&capDeprecateEOF != 0 {
		return len(p) < maxPacketChunk
	}
	return len(p) < 9
}

// eofStatus returns the status flags of a row-stream terminator.
func eofStatus(p []byte, caps uint32) (uint16, okPacket) {
	if caps&capDeprecateEOF != 0 {
		ok, err := parseOK(p, caps)
		if err == nil {
			return ok.status, ok
		}
	}
	_, st := parseEOF(p)
	return st, okPacket{status: st}
}

// errPacket is a decoded ERR packet.
type errPacket struct {
	code    uint16
	state   string
	message string
}

func (e *errPacket) Error() string {
	if e.state != "" {
		return fmt.Sprintf("ERROR %d (%s): %s", e.code, e.state, e.message)
	}
	return fmt.Sprintf("ERROR %d: %s", e.code, e.message)
}

// parseErr decodes an ERR packet (header 0xff).
func parseErr(p []byte) *errPacket {
	e := &errPacket{}
	if len(p) < 3 {
		e.message = "malformed error packet"
		return e
	}
	e.code = binary.LittleEndian.Uint16(p[1:])
	rest := p[3:]
	if len(rest) >= 6 && rest[0] == '#' {
		e.state = string(rest[1:6])
		rest = rest[6:]
	}
	e.message = string(rest)
	return e
}

// errPayload builds an ERR packet payload.
func errPayload(code uint16, state, msg string) []byte {
	b := make([]byte, 0, 9+len(msg))
	b = append(b, hdrErr, byte(code), byte(code>>8), '#')
	b = append(b, state...)
	return append(b, msg...)
}

// okPayload builds a minimal OK packet payload.
func okPayload(status uint16) []byte {
	return []byte{hdrOK, 0, 0, byte(status), byte(status >> 8), 0, 0}
}
