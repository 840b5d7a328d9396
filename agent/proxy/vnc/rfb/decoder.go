package rfb

import (
	"bufio"
	"compress/zlib"
	"encoding/binary"
	"image"
	"io"
)

// Encoding numbers.
const (
	EncRaw                 int32 = 0
	EncCopyRect            int32 = 1
	EncRRE                 int32 = 2
	EncHextile             int32 = 5
	EncZlib                int32 = 6
	EncTight               int32 = 7
	EncZRLE                int32 = 16
	EncDesktopSize         int32 = -223
	EncLastRect            int32 = -224
	EncPointerPos          int32 = -232
	EncCursor              int32 = -239
	EncXCursor             int32 = -240
	EncDesktopName         int32 = -307
	EncExtendedDesktopSize int32 = -308
)

// MaxPixels is the largest framebuffer (width*height) the decoder accepts,
// the largest screen a deskproto recording holds.
const MaxPixels = 1 << 26

// Decodable lists the encodings Decoder decodes, in a sensible order of
// preference.
var Decodable = []int32{EncZRLE, EncHextile, EncZlib, EncRRE, EncCopyRect, EncRaw,
	EncDesktopSize, EncExtendedDesktopSize, EncLastRect, EncPointerPos, EncCursor, EncXCursor, EncDesktopName}

// FilterEncodings keeps the encodings of list that Decoder decodes, in
// their order, and adds Raw when it is missing.
func FilterEncodings(list []int32) []int32 {
	out := make([]int32, 0, len(list)+1)
	raw := false
	for _, e := range list {
		for _, d := range Decodable {
			if e == d {
				dup := false
				for _, o := range out {
					dup = dup || o == e
				}
				if !dup {
					out = append(out, e)
					raw = raw || e == EncRaw
				}
				break
			}
		}
	}
	if !raw {
		out = append(out, EncRaw)
	}
	return out
}

// Handler receives what a FramebufferUpdate decodes, rectangle by
// rectangle.
type Handler interface {
	// Pixels: r now holds pix (RGBA, rows of r.Dx()*4 bytes).
	Pixels(r image.Rectangle, pix []byte) error
	// Copy: r now holds what was at src (CopyRect).
	Copy(src image.Point, r image.Rectangle) error
	// Resize: the framebuffer is now w×h.
	Resize(w, h int) error
	// Cursor: the cursor's shape (RGBA with alpha, w*h*4 bytes; w = h = 0
	// hides it) and hotspot.
	Cursor(hot image.Point, w, h int, pix []byte) error
	// CursorPos: the server moved the pointer.
	CursorPos(x, y int) error
	// DesktopName: the desktop's new name.
	DesktopName(name string) error
	// RectDone runs after each rectangle (its bytes are all read).
	RectDone() error
}

// Decoder decodes the server-to-client messages of one connection: it
// holds the pixel format, colour map, framebuffer size and zlib streams.
type Decoder struct {
	w, h int
	conv *converter
	pix  []byte // scratch RGBA
	tmp  []byte
	zlib *zstream
	zrle *zstream
}

// NewDecoder returns a decoder for a w×h framebuffer in format pf.
func NewDecoder(w, h int, pf PixelFormat) *Decoder {
	return &Decoder{w: w, h: h, conv: newConverter(pf)}
}

// Size returns the framebuffer size.
func (d *Decoder) Size() (int, int) { return d.w, d.h }

// PixelFormat returns the current pixel format.
func (d *Decoder) PixelFormat() PixelFormat { return d.conv.pf }

// SetPixelFormat changes the format of the pixels that follow.
func (d *Decoder) SetPixelFormat(pf PixelFormat) {
	cmap := d.conv.cmap
	d.conv = newConverter(pf)
	d.conv.cmap = cmap
}

// SetColourMapEntries reads the body of a SetColourMapEntries message
// (after its type byte) and updates the colour map.
func (d *Decoder) SetColourMapEntries(s *Stream) error {
	b, err := s.Next(5)
	if err != nil {
		return err
	}
	first, n := int(binary.BigEndian.Uint16(b[1:])), int(binary.BigEndian.Uint16(b[3:]))
	c, err := s.Next(n * 6)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if first+i < 256 {
			e := c[i*6:]
			d.conv.cmap[first+i] = [3]byte{e[0], e[2], e[4]} // high byte of each 16-bit value
		}
	}
	return nil
}

func (d *Decoder) scratch(n int) []byte {
	if cap(d.pix) < n {
		d.pix = make([]byte, n)
	}
	d.pix = d.pix[:n]
	return d.pix
}

// ReadUpdate reads the body of a FramebufferUpdate (after its type byte)
// and hands every rectangle to h.
func (d *Decoder) ReadUpdate(s *Stream, h Handler) error {
	b, err := s.Next(3)
	if err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	for i := 0; i < n; i++ {
		last, err := d.readRect(s, h)
		if err != nil {
			return err
		}
		if err := h.RectDone(); err != nil {
			return err
		}
		if last {
			break
		}
	}
	return nil
}

func (d *Decoder) readRect(s *Stream, h Handler) (last bool, err error) {
	b, err := s.Next(12)
	if err != nil {
		return false, err
	}
	x, y := int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
	w, hh := int(binary.BigEndian.Uint16(b[4:])), int(binary.BigEndian.Uint16(b[6:]))
	enc := int32(binary.BigEndian.Uint32(b[8:]))
	r := image.Rect(x, y, x+w, y+hh)
	switch enc {
	case EncLastRect:
		return true, nil
	case EncDesktopSize:
		if w < 1 || hh < 1 || w*hh > MaxPixels {
			return false, protoErr("desktop size %dx%d", w, hh)
		}
		d.w, d.h = w, hh
		return false, h.Resize(w, hh)
	case EncExtendedDesktopSize:
		nb, err := s.Next(4)
		if err != nil {
			return false, err
		}
		if _, err := s.Next(int(nb[0]) * 16); err != nil {
			return false, err
		}
		if w < 1 || hh < 1 || w*hh > MaxPixels {
			return false, protoErr("extended desktop size %dx%d", w, hh)
		}
		d.w, d.h = w, hh
		return false, h.Resize(w, hh)
	case EncPointerPos:
		return false, h.CursorPos(x, y)
	case EncDesktopName:
		n, err := s.U32()
		if err != nil {
			return false, err
		}
		if n > 1<<16 {
			return false, protoErr("desktop name of %d bytes", n)
		}
		name, err := s.Next(int(n))
		if err != nil {
			return false, err
		}
		return false, h.DesktopName(string(name))
	case EncCursor:
		return false, d.cursor(s, h, x, y, w, hh)
	case EncXCursor:
		return false, d.xcursor(s, h, x, y, w, hh)
	}
	// Empty rectangles (some servers send them) are read and dropped.
	if !r.Empty() && !r.In(image.Rect(0, 0, d.w, d.h)) {
		return false, protoErr("rectangle %v (encoding %d) outside the %dx%d framebuffer", r, enc, d.w, d.h)
	}
	switch enc {
	case EncRaw:
		return false, d.raw(s, h, r)
	case EncCopyRect:
		src, err := s.Next(4)
		if err != nil {
			return false, err
		}
		sp := image.Pt(int(binary.BigEndian.Uint16(src)), int(binary.BigEndian.Uint16(src[2:])))
		if r.Empty() {
			return false, nil
		}
		if !r.Sub(r.Min).Add(sp).In(image.Rect(0, 0, d.w, d.h)) {
			return false, protoErr("copy source %v outside the framebuffer", sp)
		}
		return false, h.Copy(sp, r)
	case EncRRE:
		return false, d.rre(s, h, r)
	case EncHextile:
		return false, d.hextile(s, h, r)
	case EncZlib:
		return false, d.zlibRect(s, h, r)
	case EncZRLE:
		return false, d.zrleRect(s, h, r)
	}
	return false, protoErr("the server sent encoding %d, which was not asked for", enc)
}

func (d *Decoder) raw(s *Stream, h Handler, r image.Rectangle) error {
	if r.Empty() {
		return nil
	}
	w := r.Dx()
	row := w * d.conv.bpp
	// Read and hand on in bands so a huge rectangle is never held whole.
	for y := 0; y < r.Dy(); {
		n := max(1, min(r.Dy()-y, (256<<10)/row))
		src, err := s.Next(n * row)
		if err != nil {
			return err
		}
		pix := d.scratch(w * n * 4)
		for i := 0; i < n; i++ {
			d.conv.row(pix[i*w*4:], src[i*row:], w)
		}
		if err := h.Pixels(image.Rect(r.Min.X, r.Min.Y+y, r.Max.X, r.Min.Y+y+n), pix); err != nil {
			return err
		}
		y += n
	}
	return nil
}

func emit(h Handler, r image.Rectangle, pix []byte) error {
	if r.Empty() {
		return nil
	}
	return h.Pixels(r, pix)
}

func fillRGBA(pix []byte, stride int, r image.Rectangle, c []byte) {
	if r.Empty() {
		return // an empty subrectangle may lie anywhere: nothing to paint
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := pix[y*stride+r.Min.X*4 : y*stride+r.Max.X*4]
		for i := 0; i < len(row); i += 4 {
			copy(row[i:i+4], c)
		}
	}
}

func (d *Decoder) rre(s *Stream, h Handler, r image.Rectangle) error {
	n, err := s.U32()
	if err != nil {
		return err
	}
	bpp := d.conv.bpp
	bg, err := s.Next(bpp)
	if err != nil {
		return err
	}
	w := r.Dx()
	pix := d.scratch(w * r.Dy() * 4)
	var c [4]byte
	d.conv.rgba(c[:], bg)
	fillRGBA(pix, w*4, image.Rect(0, 0, w, r.Dy()), c[:])
	if uint64(n) > uint64(w*r.Dy()) {
		return protoErr("RRE with %d subrectangles in %dx%d", n, w, r.Dy())
	}
	for i := uint32(0); i < n; i++ {
		b, err := s.Next(bpp + 8)
		if err != nil {
			return err
		}
		d.conv.rgba(c[:], b)
		sx, sy := int(binary.BigEndian.Uint16(b[bpp:])), int(binary.BigEndian.Uint16(b[bpp+2:]))
		sr := image.Rect(sx, sy, sx+int(binary.BigEndian.Uint16(b[bpp+4:])), sy+int(binary.BigEndian.Uint16(b[bpp+6:])))
		if !sr.In(image.Rect(0, 0, w, r.Dy())) {
			return protoErr("RRE subrectangle %v outside %dx%d", sr, w, r.Dy())
		}
		fillRGBA(pix, w*4, sr, c[:])
	}
	return emit(h, r, pix)
}

func (d *Decoder) hextile(s *Stream, h Handler, r image.Rectangle) error {
	w, hh := r.Dx(), r.Dy()
	bpp := d.conv.bpp
	pix := d.scratch(w * hh * 4)
	var bg, fg [4]byte
	for ty := 0; ty < hh; ty += 16 {
		for tx := 0; tx < w; tx += 16 {
			tile := image.Rect(tx, ty, min(tx+16, w), min(ty+16, hh))
			sub, err := s.U8()
			if err != nil {
				return err
			}
			if sub&1 != 0 { // Raw
				tw := tile.Dx()
				src, err := s.Next(tw * tile.Dy() * bpp)
				if err != nil {
					return err
				}
				for y := 0; y < tile.Dy(); y++ {
					d.conv.row(pix[(ty+y)*w*4+tx*4:], src[y*tw*bpp:], tw)
				}
				continue
			}
			if sub&2 != 0 {
				b, err := s.Next(bpp)
				if err != nil {
					return err
				}
				d.conv.rgba(bg[:], b)
			}
			fillRGBA(pix, w*4, tile, bg[:])
			if sub&4 != 0 {
				b, err := s.Next(bpp)
				if err != nil {
					return err
				}
				d.conv.rgba(fg[:], b)
			}
			if sub&8 == 0 {
				continue
			}
			n, err := s.U8()
			if err != nil {
				return err
			}
			coloured := sub&16 != 0
			size := 2
			if coloured {
				size += bpp
			}
			b, err := s.Next(int(n) * size)
			if err != nil {
				return err
			}
			for i := 0; i < int(n); i++ {
				e := b[i*size:]
				c := fg[:]
				if coloured {
					var cc [4]byte
					d.conv.rgba(cc[:], e)
					c = cc[:]
					e = e[bpp:]
				}
				sx, sy := int(e[0]>>4), int(e[0]&15)
				sr := image.Rect(sx, sy, sx+int(e[1]>>4)+1, sy+int(e[1]&15)+1).Add(tile.Min)
				if !sr.In(tile) {
					return protoErr("hextile subrectangle %v outside its tile %v", sr, tile)
				}
				fillRGBA(pix, w*4, sr, c)
			}
		}
	}
	return emit(h, r, pix)
}

// zstream is one zlib stream of a connection: compressed data arrives per
// rectangle and the decompressor keeps its state across rectangles.
type zstream struct {
	in  feed
	zr  io.ReadCloser
	out *bufio.Reader
}

// feed holds compressed bytes not yet consumed by the decompressor. It
// never reports io.EOF: running dry means the server's data was short.
type feed struct {
	b   []byte
	off int
}

var errShortZlib = protoErr("zlib data ended inside a rectangle")

func (f *feed) add(p []byte) {
	if f.off > 0 {
		n := copy(f.b, f.b[f.off:])
		f.b, f.off = f.b[:n], 0
	}
	f.b = append(f.b, p...)
}

func (f *feed) Read(p []byte) (int, error) {
	if f.off >= len(f.b) {
		return 0, errShortZlib
	}
	n := copy(p, f.b[f.off:])
	f.off += n
	return n, nil
}

func (f *feed) ReadByte() (byte, error) {
	if f.off >= len(f.b) {
		return 0, errShortZlib
	}
	f.off++
	return f.b[f.off-1], nil
}

// next feeds the compressed bytes of one rectangle into z (creating it on
// first use) and returns it ready to read that rectangle's content.
func (d *Decoder) next(zp **zstream, s *Stream) (*zstream, error) {
	n, err := s.U32()
	if err != nil {
		return nil, err
	}
	if n > 64<<20 {
		return nil, protoErr("zlib rectangle of %d bytes", n)
	}
	data, err := s.Next(int(n))
	if err != nil {
		return nil, err
	}
	z := *zp
	if z == nil {
		z = &zstream{}
		z.in.add(data)
		zr, err := zlib.NewReader(&z.in)
		if err != nil {
			return nil, protoErr("zlib stream: %v", err)
		}
		z.zr = zr
		z.out = bufio.NewReaderSize(zr, 16<<10)
		*zp = z
		return z, nil
	}
	z.in.add(data)
	return z, nil
}

func (z *zstream) read(p []byte) error {
	if _, err := io.ReadFull(z.out, p); err != nil {
		return protoErr("zlib data: %v", err)
	}
	return nil
}

func (d *Decoder) zlibRect(s *Stream, h Handler, r image.Rectangle) error {
	z, err := d.next(&d.zlib, s)
	if err != nil {
		return err
	}
	w := r.Dx()
	row := w * d.conv.bpp
	pix := d.scratch(w * r.Dy() * 4)
	if cap(d.tmp) < row {
		d.tmp = make([]byte, row)
	}
	src := d.tmp[:row]
	for y := 0; y < r.Dy(); y++ {
		if err := z.read(src); err != nil {
			return err
		}
		d.conv.row(pix[y*w*4:], src, w)
	}
	return emit(h, r, pix)
}

func (d *Decoder) zrleRect(s *Stream, h Handler, r image.Rectangle) error {
	z, err := d.next(&d.zrle, s)
	if err != nil {
		return err
	}
	w, hh := r.Dx(), r.Dy()
	pix := d.scratch(w * hh * 4)
	cp := d.conv.cpixel
	var palette [128][4]byte
	readU8 := func() (byte, error) {
		b, err := z.out.ReadByte()
		if err != nil {
			return 0, protoErr("zlib data: %v", err)
		}
		return b, nil
	}
	var cbuf [4]byte
	readPixel := func(dst []byte) error {
		if err := z.read(cbuf[:cp]); err != nil {
			return err
		}
		d.conv.cpixelRGBA(dst, cbuf[:cp])
		return nil
	}
	for ty := 0; ty < hh; ty += 64 {
		for tx := 0; tx < w; tx += 64 {
			tw, th := min(64, w-tx), min(64, hh-ty)
			at := func(i int) []byte { // the i-th pixel of the tile
				return pix[(ty+i/tw)*w*4+(tx+i%tw)*4:]
			}
			sub, err := readU8()
			if err != nil {
				return err
			}
			switch {
			case sub == 0: // raw CPIXELs
				for i := 0; i < tw*th; i++ {
					if err := readPixel(at(i)); err != nil {
						return err
					}
				}
			case sub == 1: // solid
				var c [4]byte
				if err := readPixel(c[:]); err != nil {
					return err
				}
				fillRGBA(pix, w*4, image.Rect(tx, ty, tx+tw, ty+th), c[:])
			case sub >= 2 && sub <= 16: // packed palette
				n := int(sub)
				for i := 0; i < n; i++ {
					if err := readPixel(palette[i][:]); err != nil {
						return err
					}
				}
				bits := 4
				switch {
				case n == 2:
					bits = 1
				case n <= 4:
					bits = 2
				}
				rowBytes := (tw*bits + 7) / 8
				if cap(d.tmp) < rowBytes {
					d.tmp = make([]byte, rowBytes)
				}
				rb := d.tmp[:rowBytes]
				for y := 0; y < th; y++ {
					if err := z.read(rb); err != nil {
						return err
					}
					for x := 0; x < tw; x++ {
						bit := x * bits
						idx := int(rb[bit/8]>>(8-bits-bit%8)) & (1<<bits - 1)
						if idx >= n {
							return protoErr("ZRLE palette index %d of %d", idx, n)
						}
						copy(at(y*tw + x)[:4], palette[idx][:])
					}
				}
			case sub == 128 || sub >= 130: // RLE, plain or with a palette
				n := 0
				if sub >= 130 {
					n = int(sub) - 128
					for i := 0; i < n; i++ {
						if err := readPixel(palette[i][:]); err != nil {
							return err
						}
					}
				}
				for i := 0; i < tw*th; {
					var c [4]byte
					run := 1
					if n == 0 {
						if err := readPixel(c[:]); err != nil {
							return err
						}
						if run, err = d.runLength(readU8); err != nil {
							return err
						}
					} else {
						idx, err := readU8()
						if err != nil {
							return err
						}
						if int(idx&127) >= n {
							return protoErr("ZRLE palette index %d of %d", idx&127, n)
						}
						c = palette[idx&127]
						if idx&128 != 0 {
							if run, err = d.runLength(readU8); err != nil {
								return err
							}
						}
					}
					if run > tw*th-i {
						return protoErr("ZRLE run of %d overflows its tile", run)
					}
					for ; run > 0; run, i = run-1, i+1 {
						copy(at(i)[:4], c[:])
					}
				}
			default:
				return protoErr("ZRLE tile subencoding %d", sub)
			}
		}
	}
	return emit(h, r, pix)
}

func (d *Decoder) runLength(readU8 func() (byte, error)) (int, error) {
	n := 1
	for {
		b, err := readU8()
		if err != nil {
			return 0, err
		}
		n += int(b)
		if n > 64*64+255 {
			return 0, protoErr("ZRLE run too long")
		}
		if b != 255 {
			return n, nil
		}
	}
}

func (d *Decoder) cursor(s *Stream, h Handler, x, y, w, hh int) error {
	if w > 1024 || hh > 1024 {
		return protoErr("cursor of %dx%d", w, hh)
	}
	bpp := d.conv.bpp
	src, err := s.Next(w * hh * bpp)
	if err != nil {
		return err
	}
	mrow := (w + 7) / 8
	mask, err := s.Next(mrow * hh)
	if err != nil {
		return err
	}
	pix := make([]byte, w*hh*4)
	for j := 0; j < hh; j++ {
		for i := 0; i < w; i++ {
			o := (j*w + i) * 4
			d.conv.rgba(pix[o:], src[(j*w+i)*bpp:])
			if mask[j*mrow+i/8]&(0x80>>(i%8)) == 0 {
				pix[o+3] = 0
			}
		}
	}
	if w == 0 || hh == 0 {
		return h.Cursor(image.Pt(x, y), 0, 0, nil)
	}
	return h.Cursor(image.Pt(x, y), w, hh, pix)
}

func (d *Decoder) xcursor(s *Stream, h Handler, x, y, w, hh int) error {
	if w > 1024 || hh > 1024 {
		return protoErr("cursor of %dx%d", w, hh)
	}
	if w == 0 || hh == 0 {
		return h.Cursor(image.Pt(x, y), 0, 0, nil)
	}
	cols, err := s.Next(6)
	if err != nil {
		return err
	}
	mrow := (w + 7) / 8
	bm, err := s.Next(2 * mrow * hh)
	if err != nil {
		return err
	}
	bitmap, mask := bm[:mrow*hh], bm[mrow*hh:]
	pix := make([]byte, w*hh*4)
	for j := 0; j < hh; j++ {
		for i := 0; i < w; i++ {
			o := (j*w + i) * 4
			bit := byte(0x80 >> (i % 8))
			c := cols[3:6]
			if bitmap[j*mrow+i/8]&bit != 0 {
				c = cols[0:3]
			}
			pix[o], pix[o+1], pix[o+2], pix[o+3] = c[0], c[1], c[2], 0xff
			if mask[j*mrow+i/8]&bit == 0 {
				pix[o+3] = 0
			}
		}
	}
	return h.Cursor(image.Pt(x, y), w, hh, pix)
}
