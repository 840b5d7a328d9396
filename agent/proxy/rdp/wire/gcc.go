package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// GCC user data blocks (MS-RDPBCGR 2.2.1.3 and 2.2.1.4): each is
// type u16 LE, length u16 LE (the 4-byte header included), data.
const (
	CSCore           = 0xC001
	CSSecurity       = 0xC002
	CSNet            = 0xC003
	CSCluster        = 0xC004
	CSMonitor        = 0xC005
	CSMCSMsgChannel  = 0xC006
	CSMonitorEx      = 0xC008
	CSMultitransport = 0xC00A
	SCCore           = 0x0C01
	SCSecurity       = 0x0C02
	SCNet            = 0x0C03
	SCMCSMsgChannel  = 0x0C04
	SCMultitransport = 0x0C08
)

// Client core data (CS_CORE) offsets into the block's data (after its
// 4-byte header) and early capability flags.
const (
	CoreDesktopWidth    = 4   // u16
	CoreDesktopHeight   = 6   // u16
	CoreColorDepth      = 8   // u16 (RNS_UD_COLOR_*)
	CoreHighColorDepth  = 136 // u16: 15, 16, 24 or 32
	CoreSupportedDepths = 138 // u16
	CoreEarlyCapFlags   = 140 // u16
	CoreServerSelProto  = 208 // u32: the protocol the X.224 negotiation selected

	EarlyCapDynvcGFX          = 0x0100
	EarlyCapNetcharAutoDetect = 0x0080
	EarlyCapHeartbeat         = 0x0400
	EarlyCapSkipChannelJoin   = 0x0800
	EarlyCapWant32BPP         = 0x0002

	// Server core data (SC_CORE): version u32, clientRequestedProtocols
	// u32, earlyCapabilityFlags u32 (both optional).
	SCCoreRequestedProtocols  = 4
	SCCoreEarlyCapFlags       = 8
	SCEarlyCapSkipChannelJoin = 0x08
)

// Block is one GCC user data block.
type Block struct {
	Type uint16
	Data []byte // without the 4-byte header; a copy owned by the block
}

// Blocks is the list of user data blocks of a GCC PDU.
type Blocks []Block

// Find returns the block of type t, or nil.
func (bs Blocks) Find(t uint16) *Block {
	for i := range bs {
		if bs[i].Type == t {
			return &bs[i]
		}
	}
	return nil
}

// Remove drops every block of type t.
func (bs Blocks) Remove(t uint16) Blocks {
	out := bs[:0]
	for _, b := range bs {
		if b.Type != t {
			out = append(out, b)
		}
	}
	return out
}

// ParseBlocks decodes a sequence of user data blocks.
func ParseBlocks(b []byte) (Blocks, error) {
	var bs Blocks
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: short GCC block header", ErrMalformed)
		}
		t, n := binary.LittleEndian.Uint16(b), int(binary.LittleEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			return nil, fmt.Errorf("%w: GCC block 0x%04x length %d of %d", ErrMalformed, t, n, len(b))
		}
		bs = append(bs, Block{Type: t, Data: append([]byte(nil), b[4:n]...)})
		b = b[n:]
	}
	return bs, nil
}

// Append appends the blocks.
func (bs Blocks) Append(b []byte) []byte {
	for _, bl := range bs {
		b = binary.LittleEndian.AppendUint16(b, bl.Type)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(bl.Data)+4))
		b = append(b, bl.Data...)
	}
	return b
}

// The GCC Conference Create Request / Response around the blocks (T.124
// PER, as every RDP implementation writes them):
//
//	ConnectData: choice 0x00, object identifier 0.0.20.124.0.1
//	(05 00 14 7C 00 01), PER length of the ConnectGCCPDU, then
//	request:  00 08 00 10 00 01 C0 00 "Duca", PER length, client blocks
//	response: 14 76 0A 01 01 00 01 C0 00 "McDn", PER length, server blocks
var (
	gccOID        = []byte{0x00, 0x05, 0x00, 0x14, 0x7C, 0x00, 0x01}
	gccReqHeader  = []byte{0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xC0, 0x00, 'D', 'u', 'c', 'a'}
	gccRespHeader = []byte{0x14, 0x76, 0x0A, 0x01, 0x01, 0x00, 0x01, 0xC0, 0x00, 'M', 'c', 'D', 'n'}
)

// ParseGCC returns the user data blocks of a GCC conference create
// request (key "Duca") or response (key "McDn"), the MCS userData.
func ParseGCC(b []byte, response bool) (Blocks, error) {
	if !bytes.HasPrefix(b, gccOID) {
		return nil, fmt.Errorf("%w: GCC ConnectData without the T.124 object identifier", ErrMalformed)
	}
	// The ConnectGCCPDU length is skipped, not checked: FreeRDP's server
	// writes the user data length plus 14, which is not the real size.
	rest, err := skipPERLength(b[len(gccOID):])
	if err != nil {
		return nil, err
	}
	key := []byte("Duca")
	if response {
		key = []byte("McDn")
	}
	i := bytes.Index(rest, key)
	if i < 0 || i > 16 {
		return nil, fmt.Errorf("%w: GCC conference create PDU without the %q key", ErrMalformed, key)
	}
	ud, err := perLength(rest[i+4:], "GCC user data")
	if err != nil {
		return nil, err
	}
	return ParseBlocks(ud)
}

// perLength reads a PER length and checks it equals the bytes after it.
func perLength(b []byte, what string) ([]byte, error) {
	if len(b) < 1 {
		return nil, fmt.Errorf("%w: %s length missing", ErrMalformed, what)
	}
	n := int(b[0])
	b = b[1:]
	if n&0x80 != 0 {
		if len(b) < 1 {
			return nil, fmt.Errorf("%w: %s length", ErrMalformed, what)
		}
		n = (n&0x7F)<<8 | int(b[0])
		b = b[1:]
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %s says %d bytes, has %d", ErrMalformed, what, n, len(b))
	}
	return b, nil
}

func skipPERLength(b []byte) ([]byte, error) {
	switch {
	case len(b) >= 1 && b[0]&0x80 == 0:
		return b[1:], nil
	case len(b) >= 2:
		return b[2:], nil
	}
	return nil, fmt.Errorf("%w: GCC length missing", ErrMalformed)
}

func appendPERLength(b []byte, n int) []byte {
	if n < 0x80 {
		return append(b, byte(n))
	}
	return append(b, 0x80|byte(n>>8), byte(n))
}

// AppendGCC appends a conference create request (response false) or
// response carrying the blocks.
func AppendGCC(b []byte, response bool, bs Blocks) []byte {
	ud := bs.Append(nil)
	hdr := gccReqHeader
	if response {
		hdr = gccRespHeader
	}
	inner := appendPERLength(append([]byte(nil), hdr...), len(ud))
	inner = append(inner, ud...)
	b = append(b, gccOID...)
	b = appendPERLength(b, len(inner))
	return append(b, inner...)
}

// Channel is one static virtual channel of the client network data
// (CS_NET: channelCount u32, then per channel name 8 bytes, NUL padded
// ASCII, and options u32).
type Channel struct {
	Name    string
	Options uint32
	ID      uint16 // assigned by the server (SC_NET)
}

// ParseClientNet decodes CS_NET data.
func ParseClientNet(d []byte) ([]Channel, error) {
	if len(d) < 4 {
		return nil, fmt.Errorf("%w: short CS_NET", ErrMalformed)
	}
	n := int(binary.LittleEndian.Uint32(d))
	if n > 31 || len(d) != 4+12*n {
		return nil, fmt.Errorf("%w: CS_NET with %d channels in %d bytes", ErrMalformed, n, len(d))
	}
	chans := make([]Channel, n)
	for i := range chans {
		e := d[4+12*i:]
		chans[i].Name = string(bytes.TrimRight(e[:8], "\x00"))
		chans[i].Options = binary.LittleEndian.Uint32(e[8:])
	}
	return chans, nil
}

// AppendClientNet appends CS_NET data.
func AppendClientNet(b []byte, chans []Channel) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(chans)))
	for _, c := range chans {
		var name [8]byte
		copy(name[:7], c.Name)
		b = append(b, name[:]...)
		b = binary.LittleEndian.AppendUint32(b, c.Options)
	}
	return b
}

// ServerNet is SC_NET: MCSChannelId u16 (the I/O channel),
// channelCount u16, channelIdArray u16 each, pad u16 when the count is
// odd.
type ServerNet struct {
	IOChannel uint16
	IDs       []uint16
}

// ParseServerNet decodes SC_NET data.
func ParseServerNet(d []byte) (*ServerNet, error) {
	if len(d) < 4 {
		return nil, fmt.Errorf("%w: short SC_NET", ErrMalformed)
	}
	sn := &ServerNet{IOChannel: binary.LittleEndian.Uint16(d)}
	n := int(binary.LittleEndian.Uint16(d[2:]))
	if n > 31 || len(d) < 4+2*n {
		return nil, fmt.Errorf("%w: SC_NET with %d channels in %d bytes", ErrMalformed, n, len(d))
	}
	for i := 0; i < n; i++ {
		sn.IDs = append(sn.IDs, binary.LittleEndian.Uint16(d[4+2*i:]))
	}
	return sn, nil
}

// Append appends SC_NET data.
func (sn *ServerNet) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, sn.IOChannel)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(sn.IDs)))
	for _, id := range sn.IDs {
		b = binary.LittleEndian.AppendUint16(b, id)
	}
	if len(sn.IDs)%2 == 1 {
		b = append(b, 0, 0)
	}
	return b
}
