// Package wire encodes and decodes the RDP layers below the desktop
// content (MS-RDPBCGR): TPKT (RFC 1006), X.224 connection request and
// confirm with the RDP negotiation request/response/failure, MCS
// (T.125: BER Connect-Initial/Connect-Response, PER domain PDUs: erect
// domain, attach user, channel join, send data, disconnect), GCC
// conference create request/response with the client and server data
// blocks, the share control / share data headers, capability sets, the
// Client Info PDU, and fast-path input and output framing.
//
// Every decoder works on a complete PDU held in a byte slice and returns
// an error wrapping ErrMalformed for anything inconsistent; none panics
// on hostile bytes (fuzz targets in fuzz_test.go, seeds under
// testdata/fuzz). Decoded structures refer into the PDU's buffer where
// noted; encoders append to a caller's slice.
//
// # Framing on the byte stream
//
// After the X.224 connection (and TLS) a stream carries two kinds of
// PDU, told apart by the first byte:
//
//	0x03            TPKT: version 3, reserved u8, length u16 big-endian
//	                (4..65535, the header included), then an X.224 data
//	                TPDU (02 F0 80) and an MCS PDU.
//	low 2 bits 00   fast-path: header u8 (action 0 in bits 0-1; input:
//	                numEvents in bits 2-5; flags in bits 6-7), length in
//	                1 byte (< 0x80) or 2 bytes (0x80 set: 15-bit big
//	                endian), the header included.
package wire

import "errors"

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("rdp: malformed PDU")
