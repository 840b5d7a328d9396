package deskproto

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"io"
	"time"
)

// pixelLimit is the largest screen area decoders accept: MaxPixels, lower
// in fuzz tests so that a tiny input cannot ask for a huge (valid) frame.
var pixelLimit = MaxPixels

// Decoder reads a recording's events in order.
type Decoder struct {
	r        *bufio.Reader
	off      int64 // bytes consumed from the start of the file
	hdr      Header
	us       int64 // running time
	screen   image.Rectangle
	ended    bool
	midKey   bool // started at a keyframe offset: the first event must be one
	body     []byte
	raw      []byte
	pix      []byte
	ev       Event
	lastType EventType
}

// NewDecoder reads the header from r.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{r: bufio.NewReaderSize(r, 64<<10)}
	if err := d.readHeader(); err != nil {
		return nil, err
	}
	return d, nil
}

// newDecoderAt continues a recording whose header is hdr at byte offset
// off of the file (r reads from there); the first event must be a
// keyframe.
func newDecoderAt(r io.Reader, hdr Header, off int64) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 64<<10), off: off, hdr: hdr, midKey: true}
}

// Header returns the recording's header.
func (d *Decoder) Header() Header { return d.hdr }

// Offset returns the byte offset of the next event in the file.
func (d *Decoder) Offset() int64 { return d.off }

// Ended reports whether the End event has been read.
func (d *Decoder) Ended() bool { return d.ended }

func (d *Decoder) readFull(p []byte) error {
	n, err := io.ReadFull(d.r, p)
	d.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ErrTruncated
		}
		return fmt.Errorf("deskproto: read: %w", err)
	}
	return nil
}

func (d *Decoder) readByte() (byte, error) {
	b, err := d.r.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, ErrTruncated
		}
		return 0, fmt.Errorf("deskproto: read: %w", err)
	}
	d.off++
	return b, nil
}

func (d *Decoder) readUvarint(limit uint64, what string) (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		b, err := d.readByte()
		if err != nil {
			return 0, err
		}
		if i == 9 && b > 1 {
			return 0, malformed("%s: varint overflows 64 bits", what)
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			if v > limit {
				return 0, malformed("%s %d exceeds %d", what, v, limit)
			}
			return v, nil
		}
	}
	return 0, malformed("%s: varint too long", what)
}

// readBody reads n bytes into d.body, growing it only as data arrives so
// that a hostile length allocates nothing it does not also read.
func (d *Decoder) readBody(n int) error {
	d.body = d.body[:0]
	for len(d.body) < n {
		chunk := min(n-len(d.body), 1<<20)
		start := len(d.body)
		if cap(d.body) < start+chunk {
			nb := make([]byte, start, max(start+chunk, 2*cap(d.body)))
			copy(nb, d.body)
			d.body = nb
		}
		d.body = d.body[:start+chunk]
		if err := d.readFull(d.body[start:]); err != nil {
			return err
		}
	}
	return nil
}

func (d *Decoder) readHeader() error {
	var magic [len(Magic) + 1]byte
	if err := d.readFull(magic[:]); err != nil {
		return err
	}
	if string(magic[:len(Magic)]) != Magic {
		return malformed("not a deskproto recording (magic %q)", magic[:len(Magic)])
	}
	if magic[len(Magic)] != Version {
		return malformed("unsupported version %d (this reader knows %d)", magic[len(Magic)], Version)
	}
	n, err := d.readUvarint(MaxHeaderSize, "header size")
	if err != nil {
		return err
	}
	if err := d.readBody(int(n)); err != nil {
		return err
	}
	f := fields{b: d.body}
	w := f.int(MaxDimension, "width")
	h := f.int(MaxDimension, "height")
	pf := f.u8("pixel format")
	start := f.uvarint(1<<62, "start")
	key := f.uvarint(1<<40, "keyframe interval")
	count := f.int(MaxMeta, "metadata count")
	var meta map[string]string
	for i := 0; i < count && f.err == nil; i++ {
		if meta == nil {
			meta = map[string]string{}
		}
		k := f.str("metadata key")
		v := f.str("metadata value")
		if _, dup := meta[k]; dup && f.err == nil {
			f.err = malformed("metadata key %q repeated", k)
		}
		meta[k] = v
	}
	if err := f.end("header"); err != nil {
		return err
	}
	if pf != PixelRGB24 {
		return malformed("unknown pixel format %d", pf)
	}
	if (w == 0) != (h == 0) || w*h > pixelLimit {
		return malformed("screen size %dx%d", w, h)
	}
	d.hdr = Header{Width: w, Height: h, KeyframeInterval: time.Duration(key) * time.Millisecond, Meta: meta}
	if start != 0 {
		d.hdr.Start = time.UnixMicro(int64(start))
	}
	d.screen = image.Rect(0, 0, w, h)
	return nil
}

// eventHead reads an event's framing. It returns io.EOF at a clean end of
// the stream.
func (d *Decoder) eventHead() (EventType, int, error) {
	if d.ended {
		if _, err := d.r.ReadByte(); err == nil {
			return 0, 0, malformed("data after the end event")
		}
		return 0, 0, io.EOF
	}
	typ, err := d.r.ReadByte()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, 0, io.EOF
		}
		return 0, 0, fmt.Errorf("deskproto: read: %w", err)
	}
	d.off++
	dt, err := d.readUvarint(1<<50, "time delta")
	if err != nil {
		return 0, 0, err
	}
	n, err := d.readUvarint(MaxEventSize, "event size")
	if err != nil {
		return 0, 0, err
	}
	if d.us+int64(dt) < d.us || d.us+int64(dt) > 1<<52 {
		return 0, 0, malformed("event time overflows")
	}
	d.us += int64(dt)
	return EventType(typ), int(n), nil
}

// skip reads the next event's framing and skips its body. It returns the
// event's type, time and offset; io.EOF at a clean end.
func (d *Decoder) skip() (EventType, time.Duration, int64, error) {
	off := d.off
	typ, n, err := d.eventHead()
	if err != nil {
		return 0, 0, off, err
	}
	k, err := d.r.Discard(n)
	d.off += int64(k)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, 0, off, ErrTruncated
		}
		return 0, 0, off, fmt.Errorf("deskproto: read: %w", err)
	}
	if typ == EventEnd {
		d.ended = true
	}
	return typ, time.Duration(d.us) * time.Microsecond, off, nil
}

// Next decodes the next event. It returns io.EOF at the end of the
// recording (after End, or where a recording cut between events stops),
// and an error wrapping ErrTruncated when it stops inside an event. The
// returned event's Pix is reused by the next call.
func (d *Decoder) Next() (Event, error) {
	for {
		typ, n, err := d.eventHead()
		if err != nil {
			return Event{}, err
		}
		if err := d.readBody(n); err != nil {
			return Event{}, err
		}
		if d.midKey && typ != EventKeyframe {
			return Event{}, malformed("decoding from an offset that is not a keyframe")
		}
		ev, known, err := d.parse(typ)
		if err != nil {
			return Event{}, fmt.Errorf("%s event at %v: %w", typ, time.Duration(d.us)*time.Microsecond, err)
		}
		if known {
			d.midKey = false
			return ev, nil
		}
	}
}

func (d *Decoder) checkRect(r image.Rectangle, what string) error {
	if r.Empty() || !r.In(d.screen) {
		return malformed("%s %v is empty or outside the screen %v", what, r, d.screen)
	}
	return nil
}

// parse decodes d.body as an event of type typ; known is false for types
// this version does not know (skipped).
func (d *Decoder) parse(typ EventType) (Event, bool, error) {
	f := fields{b: d.body}
	ev := Event{Type: typ, T: time.Duration(d.us) * time.Microsecond}
	switch typ {
	case EventResize:
		ev.W, ev.H = f.int(MaxDimension, "width"), f.int(MaxDimension, "height")
		if err := f.end("resize"); err != nil {
			return ev, true, err
		}
		if ev.W < 1 || ev.H < 1 || ev.W*ev.H > pixelLimit {
			return ev, true, malformed("screen size %dx%d", ev.W, ev.H)
		}
		d.screen = image.Rect(0, 0, ev.W, ev.H)
	case EventRect:
		ev.X, ev.Y, ev.W, ev.H = f.int(MaxDimension, "x"), f.int(MaxDimension, "y"), f.int(MaxDimension, "w"), f.int(MaxDimension, "h")
		if f.err != nil {
			return ev, true, f.err
		}
		if err := d.checkRect(ev.Rect(), "rectangle"); err != nil {
			return ev, true, err
		}
		if err := d.pixels(&ev, f.rest(), 3); err != nil {
			return ev, true, err
		}
	case EventFill:
		ev.X, ev.Y, ev.W, ev.H = f.int(MaxDimension, "x"), f.int(MaxDimension, "y"), f.int(MaxDimension, "w"), f.int(MaxDimension, "h")
		ev.Color.R, ev.Color.G, ev.Color.B, ev.Color.A = f.u8("red"), f.u8("green"), f.u8("blue"), 0xff
		if err := f.end("fill"); err != nil {
			return ev, true, err
		}
		if err := d.checkRect(ev.Rect(), "fill"); err != nil {
			return ev, true, err
		}
	case EventCopy:
		ev.SrcX, ev.SrcY = f.int(MaxDimension, "source x"), f.int(MaxDimension, "source y")
		ev.X, ev.Y, ev.W, ev.H = f.int(MaxDimension, "x"), f.int(MaxDimension, "y"), f.int(MaxDimension, "w"), f.int(MaxDimension, "h")
		if err := f.end("copy"); err != nil {
			return ev, true, err
		}
		if err := d.checkRect(ev.Rect(), "copy destination"); err != nil {
			return ev, true, err
		}
		if err := d.checkRect(image.Rect(ev.SrcX, ev.SrcY, ev.SrcX+ev.W, ev.SrcY+ev.H), "copy source"); err != nil {
			return ev, true, err
		}
	case EventPointer:
		ev.X, ev.Y = f.int(MaxDimension, "x"), f.int(MaxDimension, "y")
		ev.Buttons = uint32(f.uvarint(1<<32-1, "buttons"))
		return ev, true, f.end("pointer")
	case EventCursorPos:
		ev.X, ev.Y = f.int(MaxDimension, "x"), f.int(MaxDimension, "y")
		return ev, true, f.end("cursor position")
	case EventKey:
		flags := f.u8("flags")
		ev.Keysym = uint32(f.uvarint(1<<32-1, "keysym"))
		ev.Scancode = uint32(f.uvarint(1<<32-1, "scancode"))
		if err := f.end("key"); err != nil {
			return ev, true, err
		}
		if flags > 1 {
			return ev, true, malformed("key flags %#x", flags)
		}
		ev.Down = flags == 1
	case EventClipboard:
		dir := f.u8("direction")
		ev.Size = f.int(1<<40, "size")
		ev.Text = f.str("text")
		if err := f.end("clipboard"); err != nil {
			return ev, true, err
		}
		if dir > 1 {
			return ev, true, malformed("clipboard direction %d", dir)
		}
		ev.Dir = ClipDir(dir)
	case EventCursor:
		ev.X, ev.Y = f.int(MaxCursor, "hotspot x"), f.int(MaxCursor, "hotspot y")
		ev.W, ev.H = f.int(MaxCursor, "w"), f.int(MaxCursor, "h")
		if f.err != nil {
			return ev, true, f.err
		}
		if (ev.W == 0) != (ev.H == 0) {
			return ev, true, malformed("cursor size %dx%d", ev.W, ev.H)
		}
		if err := d.pixels(&ev, f.rest(), 4); err != nil {
			return ev, true, err
		}
	case EventKeyframe:
		abs := int64(f.uvarint(1<<52, "keyframe time"))
		ev.W, ev.H = f.int(MaxDimension, "width"), f.int(MaxDimension, "height")
		ev.PointerX, ev.PointerY = f.int(MaxDimension, "pointer x"), f.int(MaxDimension, "pointer y")
		ev.Buttons = uint32(f.uvarint(1<<32-1, "buttons"))
		if f.err != nil {
			return ev, true, f.err
		}
		if d.midKey {
			d.us = abs
			ev.T = time.Duration(abs) * time.Microsecond
		} else if abs != d.us {
			return ev, true, malformed("keyframe time %d µs differs from the running time %d µs", abs, d.us)
		}
		if ev.W < 1 || ev.H < 1 || ev.W*ev.H > pixelLimit {
			return ev, true, malformed("screen size %dx%d", ev.W, ev.H)
		}
		d.screen = image.Rect(0, 0, ev.W, ev.H)
		if err := d.pixels(&ev, f.rest(), 3); err != nil {
			return ev, true, err
		}
	case EventBell:
		return ev, true, f.end("bell")
	case EventEnd:
		d.ended = true
		return ev, true, f.end("end")
	case EventMeta:
		ev.Key, ev.Text = f.str("key"), f.str("value")
		return ev, true, f.end("meta")
	case EventError:
		ev.Text = f.str("message")
		return ev, true, f.end("error")
	default:
		return ev, false, nil
	}
	return ev, true, nil
}

// pixels decodes the payload p of ev's W×H pixels of bpp stored bytes
// into ev.Pix (RGBA).
func (d *Decoder) pixels(ev *Event, p []byte, bpp int) error {
	n := ev.W * ev.H * bpp
	raw, err := decodePayload(p, n, d.raw)
	if err != nil {
		return err
	}
	d.raw = raw
	if bpp == 4 {
		ev.Pix = raw
		return nil
	}
	d.pix = rgbToRGBA(d.pix, raw)
	ev.Pix = d.pix
	return nil
}

// fields parses an event body; the first error sticks.
type fields struct {
	b   []byte
	err error
}

func (f *fields) uvarint(limit uint64, what string) uint64 {
	if f.err != nil {
		return 0
	}
	var v uint64
	for i := 0; ; i++ {
		if i >= len(f.b) {
			f.err = malformed("%s: body ends inside a varint", what)
			return 0
		}
		if i == 10 || (i == 9 && f.b[i] > 1) {
			f.err = malformed("%s: varint overflows 64 bits", what)
			return 0
		}
		c := f.b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			f.b = f.b[i+1:]
			break
		}
	}
	if v > limit {
		f.err = malformed("%s %d exceeds %d", what, v, limit)
		return 0
	}
	return v
}

func (f *fields) int(limit int, what string) int { return int(f.uvarint(uint64(limit), what)) }

func (f *fields) u8(what string) byte {
	if f.err != nil {
		return 0
	}
	if len(f.b) < 1 {
		f.err = malformed("%s: body too short", what)
		return 0
	}
	b := f.b[0]
	f.b = f.b[1:]
	return b
}

func (f *fields) str(what string) string {
	n := f.int(MaxEventSize, what+" length")
	if f.err != nil {
		return ""
	}
	if n > len(f.b) {
		f.err = malformed("%s: %d bytes declared, %d left", what, n, len(f.b))
		return ""
	}
	s := string(f.b[:n])
	f.b = f.b[n:]
	return s
}

func (f *fields) rest() []byte {
	b := f.b
	f.b = nil
	return b
}

func (f *fields) end(what string) error {
	if f.err == nil && len(f.b) > 0 {
		f.err = malformed("%s: %d bytes after the fields", what, len(f.b))
	}
	return f.err
}
