// Package deskproto is OnePAM's pixel-level desktop recording format, shared
// by the VNC and RDP proxies: a compact binary stream of timed desktop
// events (screen size, rectangle updates with lossless compressed pixels,
// solid fills, copy-rectangle, cursor shape and position, key and pointer
// input, size-capped clipboard text) with periodic keyframes (a full frame)
// so that a player seeks by decoding from the nearest keyframe only.
// SPEC.md in this directory is the same specification with the reasons
// behind it.
//
// The package has an Encoder (safe for concurrent use: a proxy's
// server-to-client and client-to-server goroutines share one), a Decoder,
// a Renderer that applies events to an image.RGBA framebuffer, and a
// Player that indexes a recording's keyframes and renders the frame at any
// time (SeekTo, Frame, ExportPNG, ExportFrames).
//
// # Conventions
//
// uvarint is an unsigned LEB128 varint (encoding/binary.AppendUvarint), at
// most 10 bytes; values above a field's limit are malformed. A string is a
// uvarint byte length followed by that many bytes of UTF-8. u8 is one
// byte. Times are microseconds since the session started, never
// decreasing. Coordinates are pixels, x to the right and y down from the
// top-left corner of the screen.
//
// Pixels are stored as RGB: 3 bytes per pixel (red, green, blue, 0..255),
// rows top to bottom, left to right, no padding. The renderer works on a
// 32-bit opaque RGBA framebuffer; alpha is not stored. Cursor images are
// RGBA: 4 bytes per pixel, non-premultiplied, alpha 0 transparent, 255
// opaque.
//
// A pixel payload is a codec byte followed by the data:
//
//	codec 0 (CodecRaw):  the pixels as they are (w*h*3 bytes; w*h*4 for a
//	                     cursor)
//	codec 1 (CodecZstd): one zstd frame whose content is those bytes
//	                     exactly
//
// # File
//
//	file   = header, event*
//	header = magic "OPDESK" (6 bytes), version u8 (1), uvarint N (1..65536),
//	         N bytes of header body
//
// Header body:
//
//	width        uvarint  screen width at the start, 0..MaxDimension
//	                      (0 with height 0: no screen yet; the first
//	                      Resize or Keyframe event sets it)
//	height       uvarint  screen height at the start, 0..MaxDimension
//	pixel format u8       1 (PixelRGB24): payload pixels are 3-byte RGB;
//	                      the only format of version 1
//	start        uvarint  wall-clock time of t=0, Unix microseconds (0:
//	                      unknown)
//	keyframe     uvarint  the encoder's keyframe interval in milliseconds
//	                      (informational; a player uses the events)
//	meta count   uvarint  number of metadata pairs, 0..256
//	meta         count × (key string, value string): session metadata,
//	                      e.g. session_id, protocol ("vnc", "rdp"), target,
//	                      user; keys are unique; unknown keys are kept
//
// Every event has the same framing:
//
//	type   u8       the event type (below)
//	dt     uvarint  microseconds since the previous event (since t=0 for
//	                the first); the event's time is the running sum
//	length uvarint  the body's size in bytes, 0..MaxEventSize
//	body   length bytes, per type
//
// A decoder skips event types it does not know (their length says how
// far), so later versions may add events. Bytes left in a known body after
// its fields are malformed.
//
// # Events
//
//	1 Resize     width uvarint, height uvarint (1..MaxDimension each,
//	             width*height <= MaxPixels). The screen changes size; the
//	             overlapping top-left part keeps its pixels, the rest is
//	             black.
//	2 Rect       x, y, w, h uvarint; pixel payload of w*h RGB pixels. The
//	             rectangle (w, h >= 1) lies inside the screen.
//	3 Fill       x, y, w, h uvarint; red, green, blue u8. A solid
//	             rectangle inside the screen.
//	4 Copy       src x, src y, x, y, w, h uvarint. The w×h rectangle at
//	             (src x, src y) is copied to (x, y) as if read completely
//	             before writing (overlap allowed); both lie inside the
//	             screen (RFB CopyRect, RDP screen-to-screen blit).
//	5 Pointer    x, y uvarint; buttons uvarint. Pointer input from the
//	             person. buttons is a bit mask: 0 left, 1 middle, 2 right,
//	             3 wheel up, 4 wheel down, 5 wheel left, 6 wheel right,
//	             7 back, 8 forward (RFB's mask; RDP's flags map onto it).
//	6 Key        flags u8 (bit 0: 1 pressed, 0 released; other bits zero);
//	             keysym uvarint (X11 keysym, 0x01000000+code point for
//	             Unicode input, 0 unknown); scancode uvarint (PC set-1
//	             scan code, +0x100 for the E0 prefix, 0 unknown). Key
//	             input from the person: VNC gives keysyms, RDP scan codes
//	             or Unicode.
//	7 Clipboard  direction u8 (0: the person's clipboard sent to the
//	             desktop, 1: the desktop's clipboard sent to the person);
//	             size uvarint (the full text's size in bytes as
//	             transferred, in the protocol's own encoding: Latin-1 for
//	             RFB, UTF-16 for RDP); text string (UTF-8, at most the
//	             encoder's cap: a prefix of the text when it was longer).
//	8 Cursor     hotspot x, hotspot y uvarint; w, h uvarint (0..MaxCursor;
//	             0×0 means no cursor is drawn); pixel payload of w*h RGBA
//	             pixels. The pointer's shape from now on.
//	9 Keyframe   t uvarint (the event's own time, absolute, equal to the
//	             running time); width, height uvarint (as Resize);
//	             pointer x, pointer y uvarint; buttons uvarint; pixel
//	             payload of width*height RGB pixels. The complete screen: a
//	             player starting here needs nothing before it, except the
//	             cursor shape, which an encoder writes as a Cursor event
//	             right after each keyframe (same time) when one is set.
//	10 Bell      empty. The desktop rang its bell.
//	11 Meta      key string, value string. Metadata learnt during the
//	             session (desktop_name, connection notes).
//	12 Error     message string. The session's connection ended with this
//	             error (e.g. a protocol decoding failure); the recording is
//	             complete up to here.
//	13 End       empty. The recording ended cleanly; nothing follows.
//	14 CursorPos x, y uvarint. The desktop moved the pointer (RFB
//	             PointerPos, RDP pointer position update).
//
// A recording cut short (the agent crashed, the upload was interrupted)
// ends without End, possibly inside an event: decoders report
// ErrTruncated for a partial event, and players render everything before
// it.
//
// # Keyframes
//
// The encoder keeps its own copy of the screen and writes a Keyframe after
// a drawing event (Rect, Fill, Copy, Resize) once KeyframeInterval has
// passed since the previous keyframe or KeyframeBytes of events have been
// written since it, whichever comes first. A player indexes the offsets of
// every keyframe in one pass (skipping bodies), and renders time t by
// decoding from the last keyframe at or before t.
package deskproto
