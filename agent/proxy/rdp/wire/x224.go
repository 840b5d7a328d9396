package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Security protocols of the RDP negotiation (requestedProtocols /
// selectedProtocol bit values).
const (
	ProtocolRDP      uint32 = 0 // standard RDP security (RC4): never used here
	ProtocolSSL      uint32 = 1 // TLS
	ProtocolHybrid   uint32 = 2 // TLS + CredSSP (NLA)
	ProtocolRDSTLS   uint32 = 4
	ProtocolHybridEx uint32 = 8 // NLA + early user authorization result
)

// RDP_NEG_REQ flags.
const (
	NegReqRestrictedAdmin         = 0x01
	NegReqRedirectedAuth          = 0x02
	NegReqCorrelationInfo         = 0x08
	NegRspExtendedClientData      = 0x01
	NegRspGFXSupported            = 0x02
	NegFailureSSLRequired         = 1
	NegFailureSSLNotAllowed       = 2
	NegFailureSSLCertNotOnServer  = 3
	NegFailureInconsistentFlags   = 4
	NegFailureHybridRequired      = 5
	NegFailureSSLWithUserAuthReqd = 6
)

// NegFailureText names RDP_NEG_FAILURE codes.
func NegFailureText(code uint32) string {
	switch code {
	case NegFailureSSLRequired:
		return "the server requires TLS"
	case NegFailureSSLNotAllowed:
		return "the server does not allow TLS (standard RDP security only)"
	case NegFailureSSLCertNotOnServer:
		return "the server has no TLS certificate"
	case NegFailureInconsistentFlags:
		return "inconsistent negotiation flags"
	case NegFailureHybridRequired:
		return "the server requires NLA (CredSSP)"
	case NegFailureSSLWithUserAuthReqd:
		return "the server requires TLS with user authentication"
	}
	return fmt.Sprintf("failure code %d", code)
}

// ConnectionRequest is an X.224 Connection Request TPDU with its RDP
// payload (MS-RDPBCGR 2.2.1.1):
//
//	TPKT, LI u8, code 0xE0, dst-ref u16, src-ref u16, class u8,
//	optional cookie ("Cookie: mstshash=NAME\r\n") or routing token
//	(any line ending in \r\n), optional RDP_NEG_REQ: type 0x01,
//	flags u8, length u16 LE (8), requestedProtocols u32 LE,
//	optional RDP_NEG_CORRELATION_INFO (36 bytes, ignored).
type ConnectionRequest struct {
	Cookie    []byte // the cookie or routing token line without \r\n
	HasNeg    bool   // an RDP_NEG_REQ was present
	NegFlags  uint8
	Protocols uint32 // requestedProtocols (0 when no RDP_NEG_REQ)
}

// ParseConnectionRequest decodes a whole TPKT PDU.
func ParseConnectionRequest(pdu []byte) (*ConnectionRequest, error) {
	b, err := x224Body(pdu, 0xE0)
	if err != nil {
		return nil, err
	}
	cr := &ConnectionRequest{}
	if !(len(b) >= 8 && b[0] == 1 && b[2] == 8 && b[3] == 0) {
		if i := bytes.Index(b, []byte("\r\n")); i >= 0 {
			cr.Cookie, b = b[:i], b[i+2:]
		}
	}
	if len(b) >= 8 && b[0] == 1 {
		if binary.LittleEndian.Uint16(b[2:]) != 8 {
			return nil, fmt.Errorf("%w: RDP_NEG_REQ length %d", ErrMalformed, binary.LittleEndian.Uint16(b[2:]))
		}
		cr.HasNeg, cr.NegFlags, cr.Protocols = true, b[1], binary.LittleEndian.Uint32(b[4:])
		if cr.NegFlags&NegReqCorrelationInfo != 0 && len(b) != 8+36 || cr.NegFlags&NegReqCorrelationInfo == 0 && len(b) != 8 {
			return nil, fmt.Errorf("%w: %d bytes after RDP_NEG_REQ", ErrMalformed, len(b)-8)
		}
	} else if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d unexpected bytes in the connection request", ErrMalformed, len(b))
	}
	return cr, nil
}

// x224Body checks the TPKT and X.224 headers of a connection TPDU of
// the given code and returns the bytes after the class byte.
func x224Body(pdu []byte, code byte) ([]byte, error) {
	if len(pdu) < 11 || pdu[0] != 3 || int(binary.BigEndian.Uint16(pdu[2:])) != len(pdu) {
		return nil, fmt.Errorf("%w: bad TPKT header", ErrMalformed)
	}
	li := int(pdu[4])
	if li+5 != len(pdu) || li < 6 {
		return nil, fmt.Errorf("%w: X.224 length indicator %d for %d bytes", ErrMalformed, li, len(pdu)-5)
	}
	if pdu[5]&0xF0 != code {
		return nil, fmt.Errorf("%w: X.224 TPDU code 0x%02x, want 0x%02x", ErrMalformed, pdu[5], code)
	}
	return pdu[11:], nil
}

// AppendConnectionRequest appends a TPKT X.224 connection request with
// cookie (if any; "Cookie: mstshash=" is added in front) and an
// RDP_NEG_REQ for protocols.
func AppendConnectionRequest(b []byte, user string, protocols uint32) []byte {
	var body []byte
	if user != "" {
		body = append(body, "Cookie: mstshash="+user+"\r\n"...)
	}
	body = append(body, 1, 0, 8, 0)
	body = binary.LittleEndian.AppendUint32(body, protocols)
	b = AppendTPKT(b, 7+len(body))
	b = append(b, byte(6+len(body)), 0xE0, 0, 0, 0, 0, 0)
	return append(b, body...)
}

// ConnectionConfirm is an X.224 Connection Confirm with the RDP
// negotiation response (type 0x02: flags u8, length u16 = 8,
// selectedProtocol u32) or failure (type 0x03: flags, length,
// failureCode u32).
type ConnectionConfirm struct {
	HasNeg   bool
	Failure  bool
	Flags    uint8
	Protocol uint32 // selectedProtocol, or the failure code
}

// ParseConnectionConfirm decodes a whole TPKT PDU.
func ParseConnectionConfirm(pdu []byte) (*ConnectionConfirm, error) {
	b, err := x224Body(pdu, 0xD0)
	if err != nil {
		return nil, err
	}
	cc := &ConnectionConfirm{}
	if len(b) == 0 {
		return cc, nil
	}
	if len(b) != 8 || (b[0] != 2 && b[0] != 3) || binary.LittleEndian.Uint16(b[2:]) != 8 {
		return nil, fmt.Errorf("%w: bad RDP negotiation response", ErrMalformed)
	}
	cc.HasNeg, cc.Failure, cc.Flags, cc.Protocol = true, b[0] == 3, b[1], binary.LittleEndian.Uint32(b[4:])
	return cc, nil
}

// AppendConnectionConfirm appends a connection confirm with an
// RDP_NEG_RSP (failure false) or RDP_NEG_FAILURE (failure true).
func AppendConnectionConfirm(b []byte, failure bool, flags uint8, value uint32) []byte {
	typ := byte(2)
	if failure {
		typ = 3
	}
	b = AppendTPKT(b, 15)
	b = append(b, 14, 0xD0, 0, 0, 0x12, 0x34, 0, typ, flags, 8, 0)
	return binary.LittleEndian.AppendUint32(b, value)
}
