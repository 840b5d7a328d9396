package deskproto

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"time"
)

// Magic starts every deskproto file.
const Magic = "OPDESK"

// Version is the format version this package writes and reads.
const Version = 1

// PixelRGB24 is the only stored pixel format of version 1: 3-byte RGB.
const PixelRGB24 = 1

// Limits of the format.
const (
	MaxDimension  = 16384     // largest screen width or height
	MaxPixels     = 1 << 26   // largest screen area (width*height)
	MaxCursor     = 1024      // largest cursor width or height
	MaxEventSize  = 256 << 20 // largest event body
	MaxHeaderSize = 64 << 10  // largest header body
	MaxMeta       = 256       // most metadata pairs in the header
)

// Pixel payload codecs.
const (
	CodecRaw  = 0 // stored as they are
	CodecZstd = 1 // one zstd frame
)

// Errors. Every decoding error wraps ErrMalformed or ErrTruncated.
var (
	ErrMalformed = errors.New("deskproto: malformed recording")
	ErrTruncated = errors.New("deskproto: recording is truncated")
)

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// EventType is the type of an event.
type EventType uint8

// The event types (see the package comment for their bodies).
const (
	EventResize    EventType = 1
	EventRect      EventType = 2
	EventFill      EventType = 3
	EventCopy      EventType = 4
	EventPointer   EventType = 5
	EventKey       EventType = 6
	EventClipboard EventType = 7
	EventCursor    EventType = 8
	EventKeyframe  EventType = 9
	EventBell      EventType = 10
	EventMeta      EventType = 11
	EventError     EventType = 12
	EventEnd       EventType = 13
	EventCursorPos EventType = 14
)

var eventNames = [...]string{"", "resize", "rect", "fill", "copy", "pointer", "key", "clipboard", "cursor", "keyframe", "bell", "meta", "error", "end", "cursor-pos"}

func (t EventType) String() string {
	if int(t) < len(eventNames) && t != 0 {
		return eventNames[t]
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// ClipDir says which way clipboard text went.
type ClipDir uint8

// Clipboard directions.
const (
	ClipToDesktop ClipDir = 0 // the person's clipboard sent to the desktop
	ClipToPerson  ClipDir = 1 // the desktop's clipboard sent to the person
)

// Header is a recording's header.
type Header struct {
	Width, Height int // screen size at the start; 0×0 until the first Resize
	// Start is the wall-clock time of t=0 (zero: unknown); stored in
	// microseconds.
	Start time.Time
	// KeyframeInterval is informational: the encoder's interval.
	KeyframeInterval time.Duration
	// Meta is session metadata (session_id, protocol, target, user, ...).
	Meta map[string]string
}

// Event is one decoded event. Fields not used by its type are zero.
type Event struct {
	Type EventType
	T    time.Duration // since the session started (µs resolution)

	// Rect, Fill, Copy (destination), Keyframe and Resize (W, H), Cursor
	// (W, H; X, Y is the hotspot), Pointer and CursorPos (X, Y).
	X, Y, W, H int
	// SrcX, SrcY: the source of a Copy.
	SrcX, SrcY int
	// Color of a Fill (opaque).
	Color color.RGBA
	// Pix holds the pixels of a Rect, Keyframe or Cursor as RGBA, 4 bytes
	// per pixel, rows of W*4 bytes. It is reused by the next call to
	// Decoder.Next.
	Pix []byte
	// PointerX, PointerY, Buttons: the pointer of a Keyframe; Buttons is
	// also the mask of a Pointer event.
	PointerX, PointerY int
	Buttons            uint32
	// Key events.
	Down     bool
	Keysym   uint32
	Scancode uint32
	// Clipboard events: Dir, Size (the full text's size) and Text (capped).
	Dir  ClipDir
	Size int
	// Text is the clipboard text, the Meta value or the Error message.
	Text string
	// Key is the Meta key.
	Key string
}

// Rect returns the event's rectangle (X, Y, W, H).
func (e *Event) Rect() image.Rectangle { return image.Rect(e.X, e.Y, e.X+e.W, e.Y+e.H) }
