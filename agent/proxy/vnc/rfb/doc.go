// Package rfb is the wire layer of the Remote Framebuffer protocol (RFC
// 6143) shared by the agent's VNC proxy and its tests: protocol versions,
// security handshakes (None and VNC Authentication), pixel formats, and a
// decoder of FramebufferUpdate rectangles to 32-bit RGBA pixels.
//
// Stream reads the protocol with a buffer and keeps every byte it read
// until Take, so a relay forwards exactly the bytes it has decoded.
//
// Decoder supports the encodings a recording gateway can decode exactly:
// Raw (0), CopyRect (1), RRE (2), Hextile (5), Zlib (6) and ZRLE (16), and
// the pseudo-encodings DesktopSize (-223), LastRect (-224), PointerPos
// (-232), Cursor (-239), XCursor (-240), DesktopName (-307) and
// ExtendedDesktopSize (-308). Zlib and ZRLE keep one zlib stream each per
// connection, as the protocol requires. Tight, TRLE and the extensions that
// add messages (Fence, ContinuousUpdates, QEMU keys, extended clipboard)
// are not decoded: a gateway removes them from the viewer's SetEncodings
// (FilterEncodings).
package rfb
