package wire

import (
	"encoding/binary"
	"fmt"
)

// Fast-path output update codes (updateHeader bits 0-3).
const (
	FPUpdateOrders       = 0x0
	FPUpdateBitmap       = 0x1
	FPUpdatePalette      = 0x2
	FPUpdateSynchronize  = 0x3
	FPUpdateSurfCmds     = 0x4
	FPUpdatePtrNull      = 0x5
	FPUpdatePtrDefault   = 0x6
	FPUpdatePtrPosition  = 0x8
	FPUpdateColorPointer = 0x9
	FPUpdateCachedPtr    = 0xA
	FPUpdatePointer      = 0xB
	FPUpdateLargePointer = 0xC
)

// Fast-path fragmentation (updateHeader bits 4-5).
const (
	FragSingle = 0
	FragLast   = 1
	FragFirst  = 2
	FragNext   = 3
)

// FastPathUpdate is one update of a fast-path output PDU
// (TS_FP_UPDATE): updateHeader u8 (updateCode bits 0-3, fragmentation
// bits 4-5, compression bits 6-7), compressionFlags u8 when compression
// is 2 (FASTPATH_OUTPUT_COMPRESSION_USED), size u16 LE, data.
type FastPathUpdate struct {
	Code        uint8
	Frag        uint8
	Compression uint8 // compressionFlags (0 unless bulk-compressed)
	Data        []byte
}

// ParseFastPathOutput decodes a whole fast-path output PDU (header u8:
// action 0 in bits 0-1, flags in bits 6-7: 1 secure checksum, 2
// encrypted; length 1-2 bytes; updates) into dst[:0].
func ParseFastPathOutput(pdu []byte, dst []FastPathUpdate) ([]FastPathUpdate, error) {
	b, err := fastPathBody(pdu)
	if err != nil {
		return nil, err
	}
	dst = dst[:0]
	for len(b) > 0 {
		u := FastPathUpdate{Code: b[0] & 0x0F, Frag: (b[0] >> 4) & 3}
		comp := b[0] >> 6
		b = b[1:]
		if comp&2 != 0 {
			if len(b) < 1 {
				return nil, fmt.Errorf("%w: fast-path compression flags missing", ErrMalformed)
			}
			u.Compression, b = b[0], b[1:]
		}
		if len(b) < 2 {
			return nil, fmt.Errorf("%w: fast-path update size missing", ErrMalformed)
		}
		n := int(binary.LittleEndian.Uint16(b))
		b = b[2:]
		if n > len(b) {
			return nil, fmt.Errorf("%w: fast-path update of %d bytes in %d", ErrMalformed, n, len(b))
		}
		u.Data, b = b[:n], b[n:]
		dst = append(dst, u)
	}
	return dst, nil
}

// fastPathBody checks a fast-path PDU's header and length and returns
// the bytes after them.
func fastPathBody(pdu []byte) ([]byte, error) {
	if len(pdu) < 2 || pdu[0]&3 != 0 {
		return nil, fmt.Errorf("%w: not a fast-path PDU", ErrMalformed)
	}
	if pdu[0]&0x80 != 0 {
		return nil, fmt.Errorf("%w: encrypted fast-path PDU (standard RDP security is not supported)", ErrMalformed)
	}
	n, hl := int(pdu[1]), 2
	if n&0x80 != 0 {
		if len(pdu) < 3 {
			return nil, fmt.Errorf("%w: fast-path length", ErrMalformed)
		}
		n, hl = (n&0x7F)<<8|int(pdu[2]), 3
	}
	if n != len(pdu) {
		return nil, fmt.Errorf("%w: fast-path length %d of %d bytes", ErrMalformed, n, len(pdu))
	}
	return pdu[hl:], nil
}

// Input event kinds (shared by fast-path and slow-path input).
const (
	InputScancode = iota + 1
	InputUnicode
	InputMouse
	InputMouseX
	InputSync
	InputRelMouse
	InputQoE
)

// Keyboard flags, in the slow-path form (fast-path flags are mapped).
const (
	KbdExtended  = 0x0100
	KbdExtended1 = 0x0200
	KbdDown      = 0x4000
	KbdRelease   = 0x8000
)

// Pointer flags (TS_POINTER_EVENT / TS_POINTERX_EVENT).
const (
	PtrWheelNegative = 0x0100
	PtrWheel         = 0x0200
	PtrHWheel        = 0x0400
	PtrMove          = 0x0800
	PtrButton1       = 0x1000 // left
	PtrButton2       = 0x2000 // right
	PtrButton3       = 0x4000 // middle
	PtrDown          = 0x8000
	PtrXButton1      = 0x0001 // back
	PtrXButton2      = 0x0002 // forward
)

// InputEvent is one keyboard or pointer event.
type InputEvent struct {
	Kind  int
	Flags uint16 // keyboard flags (slow-path form) or pointer flags
	Code  uint16 // scan code or UTF-16 code unit
	X, Y  uint16
}

// ParseFastPathInput decodes a whole fast-path input PDU
// (fpInputHeader: action 0 bits 0-1, numEvents bits 2-5 (0: a count
// byte follows the length), flags bits 6-7; length; events) into dst[:0].
// Each event: eventHeader u8 (eventFlags bits 0-4, eventCode bits 5-7),
// then scancode (0): keyCode u8; mouse (1) and mousex (2): pointerFlags
// u16, x u16, y u16; sync (3): nothing; unicode (4): code u16;
// relative mouse (5): flags u16, dx i16, dy i16; QoE timestamp (6): u32.
func ParseFastPathInput(pdu []byte, dst []InputEvent) ([]InputEvent, error) {
	b, err := fastPathBody(pdu)
	if err != nil {
		return nil, err
	}
	n := int(pdu[0]>>2) & 0x0F
	if n == 0 {
		if len(b) < 1 {
			return nil, fmt.Errorf("%w: fast-path input event count missing", ErrMalformed)
		}
		n, b = int(b[0]), b[1:]
	}
	dst = dst[:0]
	for i := 0; i < n; i++ {
		if len(b) < 1 {
			return nil, fmt.Errorf("%w: fast-path input event %d of %d missing", ErrMalformed, i+1, n)
		}
		flags, code := uint16(b[0]&0x1F), b[0]>>5
		b = b[1:]
		var ev InputEvent
		size := 0
		switch code {
		case 0:
			size = 1
		case 1, 2, 5:
			size = 6
		case 3:
		case 4:
			size = 2
		case 6:
			size = 4
		default:
			return nil, fmt.Errorf("%w: fast-path input event code %d", ErrMalformed, code)
		}
		if len(b) < size {
			return nil, fmt.Errorf("%w: fast-path input event code %d truncated", ErrMalformed, code)
		}
		kf := uint16(0)
		if flags&1 != 0 {
			kf |= KbdRelease
		}
		if flags&2 != 0 {
			kf |= KbdExtended
		}
		if flags&4 != 0 {
			kf |= KbdExtended1
		}
		switch code {
		case 0:
			ev = InputEvent{Kind: InputScancode, Flags: kf, Code: uint16(b[0])}
		case 1, 2:
			ev = InputEvent{Kind: InputMouse, Flags: binary.LittleEndian.Uint16(b), X: binary.LittleEndian.Uint16(b[2:]), Y: binary.LittleEndian.Uint16(b[4:])}
			if code == 2 {
				ev.Kind = InputMouseX
			}
		case 3:
			ev = InputEvent{Kind: InputSync, Flags: flags}
		case 4:
			ev = InputEvent{Kind: InputUnicode, Flags: kf &^ (KbdExtended | KbdExtended1), Code: binary.LittleEndian.Uint16(b)}
		case 5:
			ev = InputEvent{Kind: InputRelMouse, Flags: binary.LittleEndian.Uint16(b)}
		case 6:
			ev = InputEvent{Kind: InputQoE}
		}
		b = b[size:]
		dst = append(dst, ev)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after fast-path input events", ErrMalformed, len(b))
	}
	return dst, nil
}

// ParseSlowPathInput decodes the body of an input share data PDU
// (TS_INPUT_PDU_DATA: numEvents u16, pad u16, then events of eventTime
// u32, messageType u16 and 6 bytes: sync 0x0000 (pad u16, toggleFlags
// u32), scancode 0x0004 (keyboardFlags u16, keyCode u16, pad u16),
// unicode 0x0005 (flags, code, pad), mouse 0x8001 and mousex 0x8002
// (pointerFlags, x, y), relative mouse 0x8004 (flags, dx, dy)).
func ParseSlowPathInput(b []byte, dst []InputEvent) ([]InputEvent, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: short input PDU", ErrMalformed)
	}
	n := int(binary.LittleEndian.Uint16(b))
	b = b[4:]
	if len(b) < 12*n {
		return nil, fmt.Errorf("%w: input PDU with %d events in %d bytes", ErrMalformed, n, len(b))
	}
	dst = dst[:0]
	for i := 0; i < n; i++ {
		e := b[12*i:]
		t := binary.LittleEndian.Uint16(e[4:])
		f, c, x := binary.LittleEndian.Uint16(e[6:]), binary.LittleEndian.Uint16(e[8:]), binary.LittleEndian.Uint16(e[10:])
		var ev InputEvent
		switch t {
		case 0x0000:
			ev = InputEvent{Kind: InputSync}
		case 0x0004:
			ev = InputEvent{Kind: InputScancode, Flags: f, Code: c}
		case 0x0005:
			ev = InputEvent{Kind: InputUnicode, Flags: f, Code: c}
		case 0x8001, 0x8002:
			ev = InputEvent{Kind: InputMouse, Flags: f, X: c, Y: x}
			if t == 0x8002 {
				ev.Kind = InputMouseX
			}
		case 0x8004:
			ev = InputEvent{Kind: InputRelMouse, Flags: f}
		default:
			return nil, fmt.Errorf("%w: input event type 0x%04x", ErrMalformed, t)
		}
		dst = append(dst, ev)
	}
	return dst, nil
}
