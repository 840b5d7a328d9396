// Package vnc is the agent's VNC proxy: it carries a person's VNC viewer
// to a VNC server and records the session pixel by pixel as deskproto
// (recordfmt/deskproto).
//
// Towards the viewer the agent is an RFB server (RFC 6143) speaking 3.3,
// 3.7 or 3.8 as the viewer asks, offering only security type None: control
// has already authorised the session. Towards the server it is an RFB
// client doing the server's security, None or VNC Authentication with the
// password from agent.yaml (TargetConfig): credentials never reach the
// person. ServerInit (size, pixel format, name) is passed to the viewer
// unchanged.
//
// After the handshakes the agent relays both ways while decoding every
// message, and forwards each piece (a rectangle, a message) only once it
// is decoded and handed to the recording, so the viewer never sees
// anything the recording did not get:
//
//   - viewer → server: SetPixelFormat (tracked: it applies from the next
//     FramebufferUpdate on), SetEncodings, FramebufferUpdateRequest,
//     KeyEvent and PointerEvent (recorded as input), ClientCutText
//     (recorded, capped), SetDesktopSize.
//   - server → viewer: FramebufferUpdate (decoded to pixels: Raw,
//     CopyRect, RRE, Hextile, Zlib, ZRLE with a zlib stream per connection;
//     pseudo-encodings DesktopSize, ExtendedDesktopSize, LastRect,
//     PointerPos, Cursor, XCursor, DesktopName), SetColourMapEntries,
//     Bell, ServerCutText.
//
// Like any recording gateway, the agent rewrites the viewer's SetEncodings
// to the subset it decodes (keeping the viewer's order, dropping the
// others, always keeping Raw): Tight, TRLE and the extensions that add
// messages (Fence, ContinuousUpdates, QEMU key events, extended clipboard)
// are never negotiated. Pixels are converted from the viewer's current
// pixel format to the recording's 32-bit RGB.
//
// Malformed or unexpected bytes from either side end that connection with
// a clear error, recorded as a deskproto Error event (the recording is
// complete up to there); other sessions are not affected. A session
// carries one viewer connection at a time (a second concurrent one is
// refused), each starting with a Resize and the desktop's name in the
// recording.
package vnc
