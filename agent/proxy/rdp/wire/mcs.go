package wire

import (
	"encoding/binary"
	"fmt"
)

// BER (T.125 connect PDUs) tags.
const (
	tagConnectInitial  = 101 // [APPLICATION 101]: 0x7F 0x65
	tagConnectResponse = 102 // [APPLICATION 102]: 0x7F 0x66
)

// berHeader reads a tag (one byte, or 0x7F + one byte for
// application tags above 30) and a definite length (short form, 0x81 n,
// 0x82 n n) and returns the tag, the content and the rest.
func berHeader(b []byte) (tag int, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("%w: short BER element", ErrMalformed)
	}
	tag, b = int(b[0]), b[1:]
	if tag&0x1F == 0x1F {
		tag = int(b[0]) | 0x100
		b = b[1:]
	}
	if len(b) < 1 {
		return 0, nil, nil, fmt.Errorf("%w: short BER length", ErrMalformed)
	}
	n := int(b[0])
	b = b[1:]
	if n&0x80 != 0 {
		k := n & 0x7F
		if k < 1 || k > 2 || len(b) < k {
			return 0, nil, nil, fmt.Errorf("%w: BER length of %d bytes", ErrMalformed, k)
		}
		n = 0
		for i := 0; i < k; i++ {
			n = n<<8 | int(b[i])
		}
		b = b[k:]
	}
	if n > len(b) {
		return 0, nil, nil, fmt.Errorf("%w: BER length %d beyond %d bytes", ErrMalformed, n, len(b))
	}
	return tag, b[:n], b[n:], nil
}

func appendBERLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	}
	return append(b, 0x82, byte(n>>8), byte(n))
}

// ConnectInitial is the MCS Connect-Initial PDU (T.125 BER):
//
//	[APPLICATION 101] { callingDomainSelector OCTET STRING,
//	calledDomainSelector OCTET STRING, upwardFlag BOOLEAN,
//	targetParameters, minimumParameters, maximumParameters
//	DomainParameters, userData OCTET STRING (the GCC conference create
//	request) }
//
// Head keeps the encoded fields before userData unchanged.
type ConnectInitial struct {
	Head     []byte
	UserData []byte
}

// ParseConnectInitial decodes the MCS payload of an X.224 data TPDU.
func ParseConnectInitial(b []byte) (*ConnectInitial, error) {
	tag, content, _, err := berHeader(b)
	if err != nil {
		return nil, err
	}
	if tag != 0x100|tagConnectInitial {
		return nil, fmt.Errorf("%w: not an MCS Connect-Initial (tag 0x%x)", ErrMalformed, tag)
	}
	want := []int{0x04, 0x04, 0x01, 0x30, 0x30, 0x30}
	rest := content
	for _, w := range want {
		t, _, r, err := berHeader(rest)
		if err != nil {
			return nil, err
		}
		if t != w {
			return nil, fmt.Errorf("%w: Connect-Initial field tag 0x%x, want 0x%x", ErrMalformed, t, w)
		}
		rest = r
	}
	head := content[:len(content)-len(rest)]
	t, ud, _, err := berHeader(rest)
	if err != nil {
		return nil, err
	}
	if t != 0x04 {
		return nil, fmt.Errorf("%w: Connect-Initial userData tag 0x%x", ErrMalformed, t)
	}
	return &ConnectInitial{Head: head, UserData: ud}, nil
}

// Append appends the PDU with its current UserData.
func (ci *ConnectInitial) Append(b []byte) []byte {
	inner := len(ci.Head) + 1 + berLenSize(len(ci.UserData)) + len(ci.UserData)
	b = append(b, 0x7F, tagConnectInitial)
	b = appendBERLength(b, inner)
	b = append(b, ci.Head...)
	b = append(b, 0x04)
	b = appendBERLength(b, len(ci.UserData))
	return append(b, ci.UserData...)
}

func berLenSize(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n < 0x100:
		return 2
	}
	return 3
}

// ConnectResponse is the MCS Connect-Response PDU:
//
//	[APPLICATION 102] { result ENUMERATED, calledConnectId INTEGER,
//	domainParameters DomainParameters, userData OCTET STRING (the GCC
//	conference create response) }
type ConnectResponse struct {
	Result   int
	Head     []byte // the encoded fields before userData
	UserData []byte
}

// ParseConnectResponse decodes the MCS payload of an X.224 data TPDU.
func ParseConnectResponse(b []byte) (*ConnectResponse, error) {
	tag, content, _, err := berHeader(b)
	if err != nil {
		return nil, err
	}
	if tag != 0x100|tagConnectResponse {
		return nil, fmt.Errorf("%w: not an MCS Connect-Response (tag 0x%x)", ErrMalformed, tag)
	}
	cr := &ConnectResponse{}
	rest := content
	for i, w := range []int{0x0A, 0x02, 0x30} {
		t, c, r, err := berHeader(rest)
		if err != nil {
			return nil, err
		}
		if t != w {
			return nil, fmt.Errorf("%w: Connect-Response field tag 0x%x, want 0x%x", ErrMalformed, t, w)
		}
		if i == 0 {
			if len(c) != 1 {
				return nil, fmt.Errorf("%w: Connect-Response result", ErrMalformed)
			}
			cr.Result = int(c[0])
		}
		rest = r
	}
	cr.Head = content[:len(content)-len(rest)]
	t, ud, _, err := berHeader(rest)
	if err != nil {
		return nil, err
	}
	if t != 0x04 {
		return nil, fmt.Errorf("%w: Connect-Response userData tag 0x%x", ErrMalformed, t)
	}
	cr.UserData = ud
	return cr, nil
}

// Append appends the PDU with its current UserData.
func (cr *ConnectResponse) Append(b []byte) []byte {
	inner := len(cr.Head) + 1 + berLenSize(len(cr.UserData)) + len(cr.UserData)
	b = append(b, 0x7F, tagConnectResponse)
	b = appendBERLength(b, inner)
	b = append(b, cr.Head...)
	b = append(b, 0x04)
	b = appendBERLength(b, len(cr.UserData))
	return append(b, cr.UserData...)
}

// MCS domain PDU types (T.125 DomainMCSPDU CHOICE index; the first PER
// byte is index<<2 | option bits).
const (
	MCSErectDomainRequest  = 1
	MCSDisconnectUltimatum = 8
	MCSAttachUserRequest   = 10
	MCSAttachUserConfirm   = 11
	MCSChannelJoinRequest  = 14
	MCSChannelJoinConfirm  = 15
	MCSSendDataRequest     = 25
	MCSSendDataIndication  = 26
)

// MCSBaseChannel is the offset of PER-encoded user and channel ids
// (UserId ::= DynamicChannelId (1001..65535)).
const MCSBaseChannel = 1001

// DomainPDU is a decoded PER MCS domain PDU:
//
//	ErectDomainRequest   0x04, subHeight, subInterval (PER integers)
//	DisconnectUltimatum  0x20 | reason bits (2 bytes)
//	AttachUserRequest    0x28
//	AttachUserConfirm    0x2E, result u8, initiator u16 BE (-1001)
//	ChannelJoinRequest   0x38, initiator u16 BE (-1001), channelId u16 BE
//	ChannelJoinConfirm   0x3E, result u8, initiator u16 (-1001),
//	                     requested u16, channelId u16
//	SendDataRequest      0x64, initiator u16 (-1001), channelId u16,
//	SendDataIndication   0x68, same; then priority/segmentation u8
//	                     (0x70), PER length (1 byte < 0x80, else 2 bytes
//	                     with 0x80 set), data
type DomainPDU struct {
	Type      int
	Result    uint8
	Initiator uint16 // user id (1001 added back)
	Channel   uint16
	Data      []byte // send data: refers into the PDU
}

// ParseDomainPDU decodes the MCS payload of an X.224 data TPDU.
func ParseDomainPDU(b []byte) (*DomainPDU, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("%w: empty MCS PDU", ErrMalformed)
	}
	p := &DomainPDU{Type: int(b[0] >> 2)}
	need := func(n int) error {
		if len(b) < n {
			return fmt.Errorf("%w: MCS PDU type %d of %d bytes, want %d", ErrMalformed, p.Type, len(b), n)
		}
		return nil
	}
	switch p.Type {
	case MCSErectDomainRequest, MCSAttachUserRequest:
	case MCSDisconnectUltimatum:
		if err := need(2); err != nil {
			return nil, err
		}
		p.Result = (b[0]&1)<<2 | b[1]>>6
	case MCSAttachUserConfirm:
		if err := need(2); err != nil {
			return nil, err
		}
		p.Result = b[1]
		if b[0]&2 != 0 {
			if err := need(4); err != nil {
				return nil, err
			}
			p.Initiator = binary.BigEndian.Uint16(b[2:]) + MCSBaseChannel
		}
	case MCSChannelJoinRequest:
		if err := need(5); err != nil {
			return nil, err
		}
		p.Initiator = binary.BigEndian.Uint16(b[1:]) + MCSBaseChannel
		p.Channel = binary.BigEndian.Uint16(b[3:])
	case MCSChannelJoinConfirm:
		if err := need(6); err != nil {
			return nil, err
		}
		p.Result = b[1]
		p.Initiator = binary.BigEndian.Uint16(b[2:]) + MCSBaseChannel
		p.Channel = binary.BigEndian.Uint16(b[4:])
		if b[0]&2 != 0 {
			if err := need(8); err != nil {
				return nil, err
			}
			p.Channel = binary.BigEndian.Uint16(b[6:])
		}
	case MCSSendDataRequest, MCSSendDataIndication:
		if err := need(7); err != nil {
			return nil, err
		}
		p.Initiator = binary.BigEndian.Uint16(b[1:]) + MCSBaseChannel
		p.Channel = binary.BigEndian.Uint16(b[3:])
		n, rest := int(b[6]), b[7:]
		if n&0x80 != 0 {
			if len(rest) < 1 {
				return nil, fmt.Errorf("%w: MCS send data length", ErrMalformed)
			}
			n = (n&0x7F)<<8 | int(rest[0])
			rest = rest[1:]
		}
		if n != len(rest) {
			return nil, fmt.Errorf("%w: MCS send data of %d bytes says %d", ErrMalformed, len(rest), n)
		}
		p.Data = rest
	default:
		return nil, fmt.Errorf("%w: MCS domain PDU type %d not supported", ErrMalformed, p.Type)
	}
	return p, nil
}

// AppendSendData appends a whole TPKT PDU: an MCS send data request
// (indication false) or indication carrying data.
func AppendSendData(b []byte, indication bool, initiator, channel uint16, data []byte) []byte {
	typ := byte(MCSSendDataRequest << 2)
	if indication {
		typ = MCSSendDataIndication << 2
	}
	lenSize := 1
	if len(data) >= 0x80 {
		lenSize = 2
	}
	b = AppendX224Data(b, 6+lenSize+len(data))
	b = append(b, typ, byte((initiator-MCSBaseChannel)>>8), byte(initiator-MCSBaseChannel), byte(channel>>8), byte(channel), 0x70)
	if lenSize == 1 {
		b = append(b, byte(len(data)))
	} else {
		b = append(b, 0x80|byte(len(data)>>8), byte(len(data)))
	}
	return append(b, data...)
}

// AppendChannelJoinConfirm appends a whole TPKT PDU confirming a join
// of channel by user.
func AppendChannelJoinConfirm(b []byte, result uint8, user, channel uint16) []byte {
	b = AppendX224Data(b, 8)
	u := user - MCSBaseChannel
	return append(b, MCSChannelJoinConfirm<<2|2, result, byte(u>>8), byte(u), byte(channel>>8), byte(channel), byte(channel>>8), byte(channel))
}

// AppendDisconnectUltimatum appends a whole TPKT PDU: MCS disconnect
// provider ultimatum with reason 3 (rn-user-requested).
func AppendDisconnectUltimatum(b []byte) []byte {
	b = AppendX224Data(b, 2)
	return append(b, MCSDisconnectUltimatum<<2|1, 0x80)
}
