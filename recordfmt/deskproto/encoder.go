package deskproto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// EncoderConfig configures an Encoder. Zero fields take the defaults of
// withDefaults.
type EncoderConfig struct {
	// KeyframeInterval is the longest time between keyframes while the
	// screen changes. Default 10 s.
	KeyframeInterval time.Duration
	// KeyframeBytes writes a keyframe early once this many bytes of
	// events have been written since the last one. Default 8 MiB.
	KeyframeBytes int64
	// ClipboardCap is the most clipboard text recorded per transfer, in
	// bytes. Default 4096.
	ClipboardCap int
	// BufferSize is the size of the write buffer in front of w. Default
	// 64 KiB. Events reach w when it fills and on Flush.
	BufferSize int
}

func (c EncoderConfig) withDefaults() EncoderConfig {
	if c.KeyframeInterval <= 0 {
		c.KeyframeInterval = 10 * time.Second
	}
	if c.KeyframeBytes <= 0 {
		c.KeyframeBytes = 8 << 20
	}
	if c.ClipboardCap <= 0 {
		c.ClipboardCap = 4096
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 64 << 10
	}
	return c
}

// ErrClosed is returned by an Encoder used after Close.
var ErrClosed = errors.New("deskproto: encoder is closed")

// Encoder writes a recording. It is safe for concurrent use. Times passed
// to it are durations since the session started; a time before the
// previous event's is recorded as the previous event's (times never
// decrease). The first write error is returned by every later call.
type Encoder struct {
	cfg EncoderConfig

	mu       sync.Mutex
	w        *bufio.Writer
	err      error
	last     int64 // µs of the last event
	keyT     int64 // µs of the last keyframe
	sinceKey int64 // bytes since the last keyframe
	dirty    bool  // drawn since the last keyframe
	screen   *image.RGBA
	cursor   *Event // the current shape (Type EventCursor), nil when none
	ptr      image.Point
	buttons  uint32
	fields   []byte // scratch: an event's fields
	rgb      []byte // scratch: pixels before compression
	payload  []byte // scratch: a pixel payload
}

// NewEncoder writes the header h to w and returns an encoder of the
// events that follow. h.KeyframeInterval is taken from cfg.
func NewEncoder(w io.Writer, h Header, cfg EncoderConfig) (*Encoder, error) {
	cfg = cfg.withDefaults()
	if err := checkSize(h.Width, h.Height, true); err != nil {
		return nil, err
	}
	if len(h.Meta) > MaxMeta {
		return nil, fmt.Errorf("deskproto: %d metadata pairs, at most %d", len(h.Meta), MaxMeta)
	}
	e := &Encoder{cfg: cfg, w: bufio.NewWriterSize(w, cfg.BufferSize)}
	if h.Width > 0 {
		e.screen = newScreen(h.Width, h.Height)
	}
	body := binary.AppendUvarint(nil, uint64(h.Width))
	body = binary.AppendUvarint(body, uint64(h.Height))
	body = append(body, PixelRGB24)
	var start int64
	if !h.Start.IsZero() {
		start = max(h.Start.UnixMicro(), 0)
	}
	body = binary.AppendUvarint(body, uint64(start))
	body = binary.AppendUvarint(body, uint64(cfg.KeyframeInterval.Milliseconds()))
	keys := make([]string, 0, len(h.Meta))
	for k := range h.Meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	body = binary.AppendUvarint(body, uint64(len(keys)))
	for _, k := range keys {
		body = appendString(body, validText(k))
		body = appendString(body, validText(h.Meta[k]))
	}
	if len(body) > MaxHeaderSize {
		return nil, fmt.Errorf("deskproto: header of %d bytes, at most %d", len(body), MaxHeaderSize)
	}
	hdr := append([]byte(Magic), Version)
	hdr = binary.AppendUvarint(hdr, uint64(len(body)))
	if _, err := e.w.Write(append(hdr, body...)); err != nil {
		return nil, fmt.Errorf("deskproto: write header: %w", err)
	}
	if err := e.w.Flush(); err != nil {
		return nil, fmt.Errorf("deskproto: write header: %w", err)
	}
	return e, nil
}

func checkSize(w, h int, zeroOK bool) error {
	if zeroOK && w == 0 && h == 0 {
		return nil
	}
	if w < 1 || h < 1 || w > MaxDimension || h > MaxDimension || w*h > MaxPixels {
		return fmt.Errorf("deskproto: screen size %dx%d out of range (1..%d each, at most %d pixels)", w, h, MaxDimension, MaxPixels)
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func appendUvarints(b []byte, vs ...int) []byte {
	for _, v := range vs {
		b = binary.AppendUvarint(b, uint64(max(v, 0)))
	}
	return b
}

// begin locks the encoder and checks it can write.
func (e *Encoder) begin() error {
	e.mu.Lock()
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return err
	}
	return nil
}

// event writes one event; fields and payload make its body. Called
// locked.
func (e *Encoder) event(typ EventType, t time.Duration, fields, payload []byte) error {
	us := max(t.Microseconds(), e.last)
	var head [1 + 2*binary.MaxVarintLen64]byte
	head[0] = byte(typ)
	n := 1 + binary.PutUvarint(head[1:], uint64(us-e.last))
	n += binary.PutUvarint(head[n:], uint64(len(fields)+len(payload)))
	e.last = us
	var err error
	if _, err = e.w.Write(head[:n]); err == nil {
		if _, err = e.w.Write(fields); err == nil {
			_, err = e.w.Write(payload)
		}
	}
	if err != nil {
		e.err = fmt.Errorf("deskproto: write %s event: %w", typ, err)
		return e.err
	}
	e.sinceKey += int64(n + len(fields) + len(payload))
	return nil
}

// drawn runs after a drawing event: it writes a keyframe when one is due.
func (e *Encoder) drawn() error {
	e.dirty = true
	if e.last-e.keyT >= e.cfg.KeyframeInterval.Microseconds() || e.sinceKey >= e.cfg.KeyframeBytes {
		return e.keyframe(time.Duration(e.last) * time.Microsecond)
	}
	return nil
}

func (e *Encoder) keyframe(t time.Duration) error {
	if e.screen == nil {
		return nil
	}
	us := max(t.Microseconds(), e.last)
	b := e.screen.Bounds()
	e.fields = appendUvarints(e.fields[:0], int(us), b.Dx(), b.Dy(), e.ptr.X, e.ptr.Y, int(e.buttons))
	e.rgb = appendRGB(e.rgb[:0], e.screen, b)
	e.payload = appendPayload(e.payload[:0], e.rgb)
	if err := e.event(EventKeyframe, t, e.fields, e.payload); err != nil {
		return err
	}
	if e.cursor != nil {
		if err := e.writeCursor(t, e.cursor); err != nil {
			return err
		}
	}
	e.keyT, e.sinceKey, e.dirty = e.last, 0, false
	return nil
}

// Keyframe writes a keyframe now (nothing when there is no screen yet).
func (e *Encoder) Keyframe(t time.Duration) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	return e.keyframe(t)
}

func (e *Encoder) checkRect(r image.Rectangle) error {
	if !inside(e.screen, r) {
		var b image.Rectangle
		if e.screen != nil {
			b = e.screen.Bounds()
		}
		return fmt.Errorf("deskproto: rectangle %v is empty or outside the screen %v", r, b)
	}
	return nil
}

// Resize records a change of screen size to w×h.
func (e *Encoder) Resize(t time.Duration, w, h int) error {
	if err := checkSize(w, h, false); err != nil {
		return err
	}
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if e.screen != nil && e.screen.Bounds().Dx() == w && e.screen.Bounds().Dy() == h {
		return nil
	}
	e.screen = resized(e.screen, w, h)
	if err := e.event(EventResize, t, appendUvarints(e.fields[:0], w, h), nil); err != nil {
		return err
	}
	return e.drawn()
}

// Rect records new pixels for r: pix holds RGBA pixels (alpha ignored) in
// rows of stride bytes. A rectangle that changes nothing writes nothing;
// a single-colour one is written as a Fill.
func (e *Encoder) Rect(t time.Duration, r image.Rectangle, pix []byte, stride int) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if err := e.checkRect(r); err != nil {
		return err
	}
	if stride < r.Dx()*4 || len(pix) < (r.Dy()-1)*stride+r.Dx()*4 {
		return fmt.Errorf("deskproto: %d bytes with stride %d do not hold a %dx%d rectangle", len(pix), stride, r.Dx(), r.Dy())
	}
	if sameRGBA(e.screen, r, pix, stride) {
		return nil
	}
	if c, ok := solid(r.Dx(), r.Dy(), pix, stride); ok {
		return e.fill(t, r, c)
	}
	putRGBA(e.screen, r, pix, stride)
	e.fields = appendUvarints(e.fields[:0], r.Min.X, r.Min.Y, r.Dx(), r.Dy())
	e.rgb = appendRGB(e.rgb[:0], e.screen, r)
	e.payload = appendPayload(e.payload[:0], e.rgb)
	if err := e.event(EventRect, t, e.fields, e.payload); err != nil {
		return err
	}
	return e.drawn()
}

// Fill records r painted in c.
func (e *Encoder) Fill(t time.Duration, r image.Rectangle, c color.RGBA) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if err := e.checkRect(r); err != nil {
		return err
	}
	return e.fill(t, r, c)
}

func (e *Encoder) fill(t time.Duration, r image.Rectangle, c color.RGBA) error {
	if isFilled(e.screen, r, c) {
		return nil
	}
	fill(e.screen, r, c)
	e.fields = appendUvarints(e.fields[:0], r.Min.X, r.Min.Y, r.Dx(), r.Dy())
	e.fields = append(e.fields, c.R, c.G, c.B)
	if err := e.event(EventFill, t, e.fields, nil); err != nil {
		return err
	}
	return e.drawn()
}

// Copy records the rectangle of r's size at src copied to r.
func (e *Encoder) Copy(t time.Duration, src image.Point, r image.Rectangle) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if err := e.checkRect(r); err != nil {
		return err
	}
	if err := e.checkRect(r.Sub(r.Min).Add(src)); err != nil {
		return fmt.Errorf("copy source: %w", err)
	}
	if src == r.Min {
		return nil
	}
	copyRect(e.screen, src, r)
	e.fields = appendUvarints(e.fields[:0], src.X, src.Y, r.Min.X, r.Min.Y, r.Dx(), r.Dy())
	if err := e.event(EventCopy, t, e.fields, nil); err != nil {
		return err
	}
	return e.drawn()
}

// Pointer records pointer input: position and button mask.
func (e *Encoder) Pointer(t time.Duration, x, y int, buttons uint32) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	e.ptr, e.buttons = image.Pt(max(x, 0), max(y, 0)), buttons
	return e.event(EventPointer, t, appendUvarints(e.fields[:0], e.ptr.X, e.ptr.Y, int(buttons)), nil)
}

// CursorPos records the desktop moving the pointer to (x, y).
func (e *Encoder) CursorPos(t time.Duration, x, y int) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	e.ptr = image.Pt(max(x, 0), max(y, 0))
	return e.event(EventCursorPos, t, appendUvarints(e.fields[:0], e.ptr.X, e.ptr.Y), nil)
}

// Key records key input: pressed or released, with the X11 keysym and/or
// the scan code (0 when unknown).
func (e *Encoder) Key(t time.Duration, down bool, keysym, scancode uint32) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	var flags byte
	if down {
		flags = 1
	}
	e.fields = append(e.fields[:0], flags)
	e.fields = binary.AppendUvarint(e.fields, uint64(keysym))
	e.fields = binary.AppendUvarint(e.fields, uint64(scancode))
	return e.event(EventKey, t, e.fields, nil)
}

// Clipboard records clipboard text of size bytes as transferred (in the
// protocol's own encoding; -1: len(text)) sent in direction dir; text is
// all of it or its beginning (a caller streaming a large transfer passes
// only a prefix). text is UTF-8 (invalid bytes are replaced); at
// most the configured cap is kept, cut at a character boundary.
func (e *Encoder) Clipboard(t time.Duration, dir ClipDir, size int, text []byte) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	kept := text
	if len(kept) > e.cfg.ClipboardCap {
		n := e.cfg.ClipboardCap
		for n > 0 && !utf8.RuneStart(kept[n]) {
			n--
		}
		kept = kept[:n]
	}
	e.fields = append(e.fields[:0], byte(dir&1))
	kept = []byte(validText(string(kept)))
	if size < 0 {
		size = len(text)
	}
	e.fields = binary.AppendUvarint(e.fields, uint64(size))
	e.fields = appendString(e.fields, string(kept))
	return e.event(EventClipboard, t, e.fields, nil)
}

// Cursor records the pointer's shape: a w×h RGBA image (rows of w*4
// bytes, non-premultiplied alpha) with its hotspot. w = h = 0 (pix nil)
// means no cursor is drawn.
func (e *Encoder) Cursor(t time.Duration, hotspot image.Point, w, h int, pix []byte) error {
	if w < 0 || h < 0 || w > MaxCursor || h > MaxCursor || (w == 0) != (h == 0) || len(pix) < w*h*4 {
		return fmt.Errorf("deskproto: cursor %dx%d with %d bytes is invalid (at most %dx%d)", w, h, len(pix), MaxCursor, MaxCursor)
	}
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	c := &Event{Type: EventCursor, X: max(hotspot.X, 0), Y: max(hotspot.Y, 0), W: w, H: h, Pix: append([]byte(nil), pix[:w*h*4]...)}
	e.cursor = c
	if w == 0 {
		e.cursor = nil
	}
	return e.writeCursor(t, c)
}

func (e *Encoder) writeCursor(t time.Duration, c *Event) error {
	e.fields = appendUvarints(e.fields[:0], c.X, c.Y, c.W, c.H)
	e.payload = appendPayload(e.payload[:0], c.Pix)
	return e.event(EventCursor, t, e.fields, e.payload)
}

// Bell records the desktop's bell.
func (e *Encoder) Bell(t time.Duration) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	return e.event(EventBell, t, nil, nil)
}

// Meta records a metadata pair learnt during the session.
func (e *Encoder) Meta(t time.Duration, key, value string) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	e.fields = appendString(e.fields[:0], validText(key))
	e.fields = appendString(e.fields, validText(value))
	return e.event(EventMeta, t, e.fields, nil)
}

// Error records that the session's connection ended with msg.
func (e *Encoder) Error(t time.Duration, msg string) error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	return e.event(EventError, t, appendString(e.fields[:0], validText(msg)), nil)
}

// Flush hands buffered events to the writer.
func (e *Encoder) Flush() error {
	if err := e.begin(); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("deskproto: flush: %w", err)
		return e.err
	}
	return nil
}

// Close writes the End event and flushes. Later calls return ErrClosed.
func (e *Encoder) Close(t time.Duration) error {
	if err := e.begin(); err != nil {
		if errors.Is(err, ErrClosed) {
			return nil
		}
		return err
	}
	defer e.mu.Unlock()
	if err := e.event(EventEnd, t, nil, nil); err != nil {
		return err
	}
	if err := e.w.Flush(); err != nil {
		e.err = fmt.Errorf("deskproto: flush: %w", err)
		return e.err
	}
	e.err = ErrClosed
	return nil
}

// Size returns the screen size the encoder holds (0, 0 before any).
func (e *Encoder) Size() (w, h int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.screen == nil {
		return 0, 0
	}
	return e.screen.Bounds().Dx(), e.screen.Bounds().Dy()
}
