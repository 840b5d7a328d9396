package wire

import (
	"encoding/binary"
	"fmt"
)

// Basic security header flags (TS_SECURITY_HEADER: flags u16, flagsHi
// u16), present under TLS only on the Client Info PDU, licensing PDUs
// and message channel PDUs.
const (
	SecExchangePkt    = 0x0001
	SecEncrypt        = 0x0008
	SecInfoPkt        = 0x0040
	SecLicensePkt     = 0x0080
	SecRedirectionPkt = 0x0400
	SecAutodetectReq  = 0x1000
	SecAutodetectRsp  = 0x2000
	SecHeartbeat      = 0x4000
)

// Share control PDU types (pduType & 0x0F; the version 0x10 is or-ed in).
const (
	PDUDemandActive  = 0x1
	PDUConfirmActive = 0x3
	PDUDeactivateAll = 0x6
	PDUData          = 0x7
	PDUServerRedir   = 0xA
)

// Share data PDU types (pduType2).
const (
	PDU2Update          = 2
	PDU2Control         = 20
	PDU2Pointer         = 27
	PDU2Input           = 28
	PDU2Synchronize     = 31
	PDU2RefreshRect     = 33
	PDU2PlaySound       = 34
	PDU2SuppressOutput  = 35
	PDU2ShutdownRequest = 36
	PDU2ShutdownDenied  = 37
	PDU2SaveSessionInfo = 38
	PDU2FontList        = 39
	PDU2FontMap         = 40
	PDU2SetErrorInfo    = 47
	PDU2MonitorLayout   = 55
)

// ShareControl is a share control header (TS_SHARECONTROLHEADER):
// totalLength u16 (the whole PDU), pduType u16 (type | 0x10), pduSource
// u16 (the sender's MCS user channel), then the body.
type ShareControl struct {
	Type   uint16
	Source uint16
	Body   []byte
}

// IsShareControl reports whether b looks like a share control PDU
// (rather than one with a security header first): its totalLength
// equals len(b) and its pduType carries version 1.
func IsShareControl(b []byte) bool {
	return len(b) >= 4 && int(binary.LittleEndian.Uint16(b)) <= len(b) && binary.LittleEndian.Uint16(b[2:])&0xFFF0 == 0x10
}

// ParseShareControl decodes the header of the first share control PDU in
// b and returns it and the bytes after it (a send data PDU may hold
// several, each with its own totalLength).
func ParseShareControl(b []byte) (*ShareControl, []byte, error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: short share control header", ErrMalformed)
	}
	n := int(binary.LittleEndian.Uint16(b))
	if n == 0x8000 { // a flow control PDU: 8 bytes, no pduType of ours
		if len(b) < 8 {
			return nil, nil, fmt.Errorf("%w: short flow PDU", ErrMalformed)
		}
		return &ShareControl{Type: 0}, b[8:], nil
	}
	if n < 4 || n > len(b) {
		return nil, nil, fmt.Errorf("%w: share control length %d of %d bytes", ErrMalformed, n, len(b))
	}
	sc := &ShareControl{Type: binary.LittleEndian.Uint16(b[2:]) & 0x0F}
	if binary.LittleEndian.Uint16(b[2:])&0xFFF0 != 0x10 {
		return nil, nil, fmt.Errorf("%w: share control version 0x%x", ErrMalformed, binary.LittleEndian.Uint16(b[2:]))
	}
	if n >= 6 {
		sc.Source = binary.LittleEndian.Uint16(b[4:])
		sc.Body = b[6:n]
	}
	return sc, b[n:], nil
}

// AppendShareControl appends a share control PDU with body.
func AppendShareControl(b []byte, typ, source uint16, body []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(6+len(body)))
	b = binary.LittleEndian.AppendUint16(b, typ|0x10)
	b = binary.LittleEndian.AppendUint16(b, source)
	return append(b, body...)
}

// ShareData is a share data header (TS_SHAREDATAHEADER, after the share
// control header): shareId u32, pad u8, streamId u8, uncompressedLength
// u16, pduType2 u8, generalCompressedType u8, generalCompressedLength u16.
type ShareData struct {
	ShareID    uint32
	Type2      uint8
	Compressed uint8
	Body       []byte
}

// ParseShareData decodes a share data PDU body.
func ParseShareData(b []byte) (*ShareData, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("%w: short share data header", ErrMalformed)
	}
	sd := &ShareData{ShareID: binary.LittleEndian.Uint32(b), Type2: b[8], Compressed: b[9], Body: b[12:]}
	if sd.Compressed&0x20 != 0 {
		return nil, fmt.Errorf("%w: bulk-compressed share data PDU (compression was not negotiated)", ErrMalformed)
	}
	return sd, nil
}

// CapabilitySet is one capability set: type u16, length u16 (the 4-byte
// header included), data.
type CapabilitySet struct {
	Type uint16
	Data []byte // a copy owned by the set
}

// Capability set types.
const (
	CapGeneral            = 1
	CapBitmap             = 2
	CapOrder              = 3
	CapBitmapCache        = 4
	CapControl            = 5
	CapActivation         = 7
	CapPointer            = 8
	CapShare              = 9
	CapColorCache         = 10
	CapSound              = 12
	CapInput              = 13
	CapFont               = 14
	CapBrush              = 15
	CapGlyphCache         = 16
	CapOffscreenCache     = 17
	CapBitmapCacheHost    = 18
	CapBitmapCacheRev2    = 19
	CapVirtualChannel     = 20
	CapDrawNineGrid       = 21
	CapDrawGDIPlus        = 22
	CapRail               = 23
	CapWindow             = 24
	CapDesktopComposition = 25
	CapMultifragment      = 26
	CapLargePointer       = 27
	CapSurfaceCommands    = 28
	CapBitmapCodecs       = 29
	CapFrameAcknowledge   = 30
)

// ActivePDU is a Demand Active (server) or Confirm Active (client) body:
//
//	demand:  shareId u32, lengthSourceDescriptor u16,
//	         lengthCombinedCapabilities u16, sourceDescriptor,
//	         numberCapabilities u16, pad u16, capability sets,
//	         sessionId u32
//	confirm: shareId u32, originatorId u16, lengthSourceDescriptor u16,
//	         lengthCombinedCapabilities u16, sourceDescriptor,
//	         numberCapabilities u16, pad u16, capability sets
type ActivePDU struct {
	Confirm    bool
	ShareID    uint32
	Originator uint16
	Source     []byte
	Caps       []CapabilitySet
	SessionID  uint32
}

// ParseActive decodes a Demand Active (confirm false) or Confirm Active
// body.
func ParseActive(b []byte, confirm bool) (*ActivePDU, error) {
	a := &ActivePDU{Confirm: confirm}
	need := 8
	if confirm {
		need = 10
	}
	if len(b) < need {
		return nil, fmt.Errorf("%w: short active PDU", ErrMalformed)
	}
	a.ShareID = binary.LittleEndian.Uint32(b)
	b = b[4:]
	if confirm {
		a.Originator = binary.LittleEndian.Uint16(b)
		b = b[2:]
	}
	ls, lc := int(binary.LittleEndian.Uint16(b)), int(binary.LittleEndian.Uint16(b[2:]))
	b = b[4:]
	if ls+lc > len(b) || lc < 4 {
		return nil, fmt.Errorf("%w: active PDU descriptor %d + capabilities %d of %d bytes", ErrMalformed, ls, lc, len(b))
	}
	a.Source = append([]byte(nil), b[:ls]...)
	caps, rest := b[ls+4:ls+lc], b[ls+lc:]
	n := int(binary.LittleEndian.Uint16(b[ls:]))
	for i := 0; i < n; i++ {
		if len(caps) < 4 {
			return nil, fmt.Errorf("%w: capability set %d of %d missing", ErrMalformed, i+1, n)
		}
		t, l := binary.LittleEndian.Uint16(caps), int(binary.LittleEndian.Uint16(caps[2:]))
		if l < 4 || l > len(caps) {
			return nil, fmt.Errorf("%w: capability set type %d length %d", ErrMalformed, t, l)
		}
		a.Caps = append(a.Caps, CapabilitySet{Type: t, Data: append([]byte(nil), caps[4:l]...)})
		caps = caps[l:]
	}
	if !confirm && len(rest) >= 4 {
		a.SessionID = binary.LittleEndian.Uint32(rest)
	}
	return a, nil
}

// Find returns the capability set of type t, or nil.
func (a *ActivePDU) Find(t uint16) *CapabilitySet {
	for i := range a.Caps {
		if a.Caps[i].Type == t {
			return &a.Caps[i]
		}
	}
	return nil
}

// Append appends the body.
func (a *ActivePDU) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, a.ShareID)
	if a.Confirm {
		b = binary.LittleEndian.AppendUint16(b, a.Originator)
	}
	lc := 4
	for _, c := range a.Caps {
		lc += 4 + len(c.Data)
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(a.Source)))
	b = binary.LittleEndian.AppendUint16(b, uint16(lc))
	b = append(b, a.Source...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(a.Caps)))
	b = append(b, 0, 0)
	for _, c := range a.Caps {
		b = binary.LittleEndian.AppendUint16(b, c.Type)
		b = binary.LittleEndian.AppendUint16(b, uint16(4+len(c.Data)))
		b = append(b, c.Data...)
	}
	if !a.Confirm {
		b = binary.LittleEndian.AppendUint32(b, a.SessionID)
	}
	return b
}

// Bitmap capability set (TS_BITMAP_CAPABILITYSET) fields.
const (
	BitmapCapPreferredBPP = 0  // u16
	BitmapCapWidth        = 8  // u16 desktopWidth
	BitmapCapHeight       = 10 // u16 desktopHeight
	BitmapCapResize       = 14 // u16 desktopResizeFlag
	BitmapCapDrawingFlags = 19 // u8
)

// DesktopSize returns the size and color depth of a bitmap capability
// set.
func DesktopSize(c *CapabilitySet) (w, h, bpp int, err error) {
	if c == nil || len(c.Data) < 20 {
		return 0, 0, 0, fmt.Errorf("%w: missing or short bitmap capability set", ErrMalformed)
	}
	d := c.Data
	return int(binary.LittleEndian.Uint16(d[BitmapCapWidth:])), int(binary.LittleEndian.Uint16(d[BitmapCapHeight:])), int(binary.LittleEndian.Uint16(d[BitmapCapPreferredBPP:])), nil
}
