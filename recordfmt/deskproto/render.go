package deskproto

import (
	"fmt"
	"image"
	"time"
)

// Renderer applies events to an in-memory framebuffer.
type Renderer struct {
	img     *image.RGBA
	cursor  *image.RGBA
	hot     image.Point
	pos     image.Point
	buttons uint32
	t       time.Duration
}

// NewRenderer returns a renderer of the screen h describes (black).
func NewRenderer(h Header) *Renderer {
	r := &Renderer{}
	if h.Width > 0 && h.Height > 0 {
		r.img = newScreen(h.Width, h.Height)
	}
	return r
}

// Image returns the framebuffer (an empty image before the first screen
// size). It is the renderer's own: later events change it.
func (r *Renderer) Image() *image.RGBA {
	if r.img == nil {
		return image.NewRGBA(image.Rectangle{})
	}
	return r.img
}

// Time returns the time of the last applied event.
func (r *Renderer) Time() time.Duration { return r.t }

// Cursor returns the cursor's shape (nil when none is drawn) and hotspot.
func (r *Renderer) Cursor() (*image.RGBA, image.Point) { return r.cursor, r.hot }

// Pointer returns the pointer's last position and button mask.
func (r *Renderer) Pointer() (image.Point, uint32) { return r.pos, r.buttons }

// Apply applies one event. Events a Decoder returns always apply; an
// error means ev does not fit the screen.
func (r *Renderer) Apply(ev *Event) error {
	if ev.T > r.t {
		r.t = ev.T
	}
	switch ev.Type {
	case EventResize:
		if err := checkSize(ev.W, ev.H, false); err != nil {
			return err
		}
		r.img = resized(r.img, ev.W, ev.H)
	case EventKeyframe:
		if err := checkSize(ev.W, ev.H, false); err != nil {
			return err
		}
		if len(ev.Pix) < ev.W*ev.H*4 {
			return fmt.Errorf("deskproto: keyframe of %dx%d with %d bytes", ev.W, ev.H, len(ev.Pix))
		}
		if r.img == nil || r.img.Bounds().Dx() != ev.W || r.img.Bounds().Dy() != ev.H {
			r.img = image.NewRGBA(image.Rect(0, 0, ev.W, ev.H))
		}
		copy(r.img.Pix, ev.Pix)
		r.pos, r.buttons = image.Pt(ev.PointerX, ev.PointerY), ev.Buttons
	case EventRect:
		if !inside(r.img, ev.Rect()) || len(ev.Pix) < ev.W*ev.H*4 {
			return fmt.Errorf("deskproto: rectangle %v outside the screen", ev.Rect())
		}
		putRGBA(r.img, ev.Rect(), ev.Pix, ev.W*4)
	case EventFill:
		if !inside(r.img, ev.Rect()) {
			return fmt.Errorf("deskproto: fill %v outside the screen", ev.Rect())
		}
		fill(r.img, ev.Rect(), ev.Color)
	case EventCopy:
		src := image.Pt(ev.SrcX, ev.SrcY)
		if !inside(r.img, ev.Rect()) || !inside(r.img, ev.Rect().Sub(ev.Rect().Min).Add(src)) {
			return fmt.Errorf("deskproto: copy %v from %v outside the screen", ev.Rect(), src)
		}
		copyRect(r.img, src, ev.Rect())
	case EventCursor:
		if ev.W == 0 || ev.H == 0 {
			r.cursor = nil
			break
		}
		if len(ev.Pix) < ev.W*ev.H*4 {
			return fmt.Errorf("deskproto: cursor of %dx%d with %d bytes", ev.W, ev.H, len(ev.Pix))
		}
		c := image.NewRGBA(image.Rect(0, 0, ev.W, ev.H))
		copy(c.Pix, ev.Pix)
		r.cursor, r.hot = c, image.Pt(ev.X, ev.Y)
	case EventPointer:
		r.pos, r.buttons = image.Pt(ev.X, ev.Y), ev.Buttons
	case EventCursorPos:
		r.pos = image.Pt(ev.X, ev.Y)
	}
	return nil
}
