package wire

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// Client Info PDU flags (TS_INFO_PACKET.flags).
const (
	InfoMouse           = 0x00000001
	InfoAutologon       = 0x00000008
	InfoUnicode         = 0x00000010
	InfoCompression     = 0x00000080
	InfoCompressionMask = 0x00001E00
	InfoLogonNotify     = 0x00000040
)

// ClientInfo is the Client Info PDU (MS-RDPBCGR 2.2.1.11) after its
// basic security header (flags u16 with SEC_INFO_PKT, flagsHi u16):
//
//	CodePage u32, flags u32, cbDomain, cbUserName, cbPassword,
//	cbAlternateShell, cbWorkingDir u16 (sizes without the terminator),
//	then the five strings, each followed by a NUL terminator (UTF-16LE
//	with INFO_UNICODE: 2 bytes, else 1), then the extended info
//	(kept as is).
type ClientInfo struct {
	CodePage                               uint32
	Flags                                  uint32
	Domain, User, Password, Shell, WorkDir string
	Extra                                  []byte
}

// ParseClientInfo decodes the PDU from its security header on.
func ParseClientInfo(b []byte) (*ClientInfo, error) {
	if len(b) < 4+18 || binary.LittleEndian.Uint16(b)&SecInfoPkt == 0 {
		return nil, fmt.Errorf("%w: not a Client Info PDU", ErrMalformed)
	}
	b = b[4:]
	ci := &ClientInfo{CodePage: binary.LittleEndian.Uint32(b), Flags: binary.LittleEndian.Uint32(b[4:])}
	var sizes [5]int
	for i := range sizes {
		sizes[i] = int(binary.LittleEndian.Uint16(b[8+2*i:]))
	}
	b = b[18:]
	term := 1
	if ci.Flags&InfoUnicode != 0 {
		term = 2
	}
	var strs [5]string
	for i, n := range sizes {
		if n+term > len(b) || (term == 2 && n%2 != 0) {
			return nil, fmt.Errorf("%w: Client Info string %d of %d bytes", ErrMalformed, i, n)
		}
		strs[i] = decodeString(b[:n], term == 2)
		b = b[n+term:]
	}
	ci.Domain, ci.User, ci.Password, ci.Shell, ci.WorkDir = strs[0], strs[1], strs[2], strs[3], strs[4]
	ci.Extra = append([]byte(nil), b...)
	return ci, nil
}

func decodeString(b []byte, unicode bool) string {
	if !unicode {
		return string(b)
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// UTF16 encodes s as UTF-16LE without a terminator.
func UTF16(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// Append appends the PDU with its security header.
func (ci *ClientInfo) Append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, SecInfoPkt)
	b = append(b, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, ci.CodePage)
	b = binary.LittleEndian.AppendUint32(b, ci.Flags)
	unicode := ci.Flags&InfoUnicode != 0
	strs := [][]byte{}
	for _, s := range []string{ci.Domain, ci.User, ci.Password, ci.Shell, ci.WorkDir} {
		if unicode {
			strs = append(strs, UTF16(s))
		} else {
			strs = append(strs, []byte(s))
		}
	}
	for _, s := range strs {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	}
	for _, s := range strs {
		b = append(b, s...)
		b = append(b, 0)
		if unicode {
			b = append(b, 0)
		}
	}
	return append(b, ci.Extra...)
}
