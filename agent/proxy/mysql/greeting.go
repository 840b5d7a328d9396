package mysql

import (
	"encoding/binary"
	"fmt"
)

// greeting is a Handshake v10 packet, the server's first packet.
type greeting struct {
	version  string // e.g. "5.5.5-10.11.6-MariaDB-0+deb12u1"
	connID   uint32
	caps     uint32
	charset  byte
	status   uint16
	scramble []byte // 20 bytes, trailing NUL dropped
	plugin   string // default auth plugin; "" when the server names none
}

// parseGreeting decodes a Handshake v10 packet; an ERR packet (the server
// refusing the connection, e.g. too many connections) is returned as
// *errPacket.
func parseGreeting(p []byte) (*greeting, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("server greeting: %w: empty", errMalformed)
	}
	if p[0] == hdrErr {
		return nil, parseErr(p)
	}
	if p[0] != 10 {
		return nil, fmt.Errorf("server greeting: protocol version %d, want 10", p[0])
	}
	r := reader{b: p[1:]}
	g := &greeting{}
	g.version = string(r.nulString())
	g.connID = r.u32("connection id")
	part1 := r.bytes(8, "scramble")
	r.u8("filler")
	g.caps = uint32(r.u16("capabilities"))
	if r.err != nil {
		return nil, fmt.Errorf("server greeting: %w", r.err)
	}
	g.scramble = append([]byte(nil), part1...)
	if len(r.b) == 0 { // a pre-4.1 greeting ends here
		return g, nil
	}
	g.charset = r.u8("charset")
	g.status = r.u16("status")
	g.caps |= uint32(r.u16("capabilities")) << 16
	authLen := int(r.u8("auth data length"))
	r.bytes(10, "reserved")
	if r.err != nil {
		return nil, fmt.Errorf("server greeting: %w", r.err)
	}
	if g.caps&capSecureConnection != 0 {
		n := max(13, authLen-8)
		if n > len(r.b) {
			n = len(r.b)
		}
		g.scramble = append(g.scramble, r.bytes(n, "scramble")...)
		g.scramble = trimNUL(g.scramble)
	}
	if g.caps&capPluginAuth != 0 {
		g.plugin = string(r.nulString())
	}
	return g, nil
}

func trimNUL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == 0 {
		return b[:len(b)-1]
	}
	return b
}

// appendGreeting builds the Handshake v10 the proxy sends to its client:
// the server's version string, the proxy's capabilities, a fresh scramble
// and mysql_native_password as the auth plugin.
func appendGreeting(b []byte, version string, connID uint32, caps uint32, charset byte, status uint16, scramble []byte) []byte {
	b = append(b, 10)
	b = append(b, version...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, connID)
	b = append(b, scramble[:8]...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(caps))
	b = append(b, charset)
	b = binary.LittleEndian.AppendUint16(b, status)
	b = binary.LittleEndian.AppendUint16(b, uint16(caps>>16))
	b = append(b, byte(len(scramble)+1))
	b = append(b, make([]byte, 10)...) // reserved; MariaDB's extended capabilities: none
	b = append(b, scramble[8:]...)
	b = append(b, 0)
	b = append(b, pluginNative...)
	return append(b, 0)
}

// handshakeResponse is a client's HandshakeResponse41 (or the SSLRequest
// that precedes it).
type handshakeResponse struct {
	caps      uint32
	maxPacket uint32
	charset   byte
	user      string
	auth      []byte
	database  string
	plugin    string
	attrs     []byte // the connection attributes, without their length prefix
	sslOnly   bool   // the packet was an SSLRequest
}

// parseHandshakeResponse decodes a HandshakeResponse41.
func parseHandshakeResponse(p []byte) (*handshakeResponse, error) {
	r := reader{b: p}
	h := &handshakeResponse{}
	if len(p) < 4 {
		return nil, fmt.Errorf("client handshake response: %w: %d bytes", errMalformed, len(p))
	}
	h.caps = r.u32("capabilities")
	if h.caps&capProtocol41 == 0 {
		return nil, fmt.Errorf("client handshake response: the client speaks the pre-4.1 protocol, which is not supported")
	}
	h.maxPacket = r.u32("max packet size")
	h.charset = r.u8("charset")
	r.bytes(23, "filler")
	if r.err != nil {
		return nil, fmt.Errorf("client handshake response: %w", r.err)
	}
	if len(r.b) == 0 && h.caps&capSSL != 0 {
		h.sslOnly = true
		return h, nil
	}
	h.user = string(r.nulString())
	switch {
	case h.caps&capPluginAuthLenenc != 0:
		h.auth = r.lenencString("auth response")
	case h.caps&capSecureConnection != 0:
		h.auth = r.bytes(int(r.u8("auth response length")), "auth response")
	default:
		h.auth = r.nulString()
	}
	if r.err != nil {
		return nil, fmt.Errorf("client handshake response: %w", r.err)
	}
	if h.caps&capConnectWithDB != 0 && len(r.b) > 0 {
		h.database = string(r.nulString())
	}
	if h.caps&capPluginAuth != 0 && len(r.b) > 0 {
		h.plugin = string(r.nulString())
	}
	if h.caps&capConnectAttrs != 0 && len(r.b) > 0 {
		h.attrs = r.lenencString("connection attributes")
		if r.err != nil {
			return nil, fmt.Errorf("client handshake response: %w", r.err)
		}
	}
	h.attrs = append([]byte(nil), h.attrs...)
	h.auth = nil // never kept: the client's credentials are not used
	return h, nil
}

// appendHandshakeResponse builds the HandshakeResponse41 (or, with
// sslOnly, the SSLRequest) the proxy sends to the server.
func appendHandshakeResponse(b []byte, h *handshakeResponse, auth []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, h.caps)
	b = binary.LittleEndian.AppendUint32(b, h.maxPacket)
	b = append(b, h.charset)
	b = append(b, make([]byte, 23)...)
	if h.sslOnly {
		return b
	}
	b = append(b, h.user...)
	b = append(b, 0)
	if h.caps&capPluginAuthLenenc != 0 {
		b = appendLenencString(b, auth)
	} else {
		b = append(b, byte(len(auth)))
		b = append(b, auth...)
	}
	if h.caps&capConnectWithDB != 0 {
		b = append(b, h.database...)
		b = append(b, 0)
	}
	if h.caps&capPluginAuth != 0 {
		b = append(b, h.plugin...)
		b = append(b, 0)
	}
	if h.caps&capConnectAttrs != 0 {
		b = appendLenencString(b, h.attrs)
	}
	return b
}
