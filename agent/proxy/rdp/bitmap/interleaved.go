package bitmap

import (
	"fmt"
	"sync"
)

// Interleaved RLE order codes (MS-RDPBCGR 2.2.9.1.1.3.1.2.4). The
// order header byte holds the code in its top 3 bits (regular orders),
// its top 4 bits (lite orders, when the top two bits are set) or all 8
// bits (mega-mega and special orders, 0xF0..0xFE), and a run length in
// the remaining bits (0: an extra byte follows, plus 32 for regular or
// 16 for lite orders; FGBG images count in 8-pixel units unless 0, then
// the extra byte plus 1). Mega-mega orders have a u16 run length.
const (
	regularBGRun         = 0x0
	regularFGRun         = 0x1
	regularFGBGImage     = 0x2
	regularColorRun      = 0x3
	regularColorImage    = 0x4
	liteSetFGFGRun       = 0xC
	liteSetFGFGBGImage   = 0xD
	liteDitheredRun      = 0xE
	megaMegaBGRun        = 0xF0
	megaMegaFGRun        = 0xF1
	megaMegaFGBGImage    = 0xF2
	megaMegaColorRun     = 0xF3
	megaMegaColorImage   = 0xF4
	megaMegaSetFGRun     = 0xF6
	megaMegaSetFGBGImage = 0xF7
	megaMegaDitheredRun  = 0xF8
	specialFGBG1         = 0xF9
	specialFGBG2         = 0xFA
	specialWhite         = 0xFD
	specialBlack         = 0xFE
)

var pixPool = sync.Pool{New: func() any { return new([]uint32) }}

// rle is the state of one interleaved RLE decoding.
type rle struct {
	src   []byte
	out   []uint32 // pixels, bottom-up rows as stored
	pos   int
	width int
	bp    int // bytes per pixel
}

func (r *rle) byte1() (int, error) {
	if len(r.src) < 1 {
		return 0, fmt.Errorf("%w: interleaved RLE data ends early", ErrMalformed)
	}
	v := int(r.src[0])
	r.src = r.src[1:]
	return v, nil
}

func (r *rle) pixel() (uint32, error) {
	if len(r.src) < r.bp {
		return 0, fmt.Errorf("%w: interleaved RLE data ends inside a pixel", ErrMalformed)
	}
	var p uint32
	for i := 0; i < r.bp; i++ {
		p |= uint32(r.src[i]) << (8 * i)
	}
	r.src = r.src[r.bp:]
	return p, nil
}

func (r *rle) room(n int) error {
	if n < 0 || r.pos+n > len(r.out) {
		return fmt.Errorf("%w: interleaved RLE run of %d pixels overflows the bitmap", ErrMalformed, n)
	}
	return nil
}

// above returns the pixel one row up in decoding order (the previous
// scanline), 0 on the first one.
func (r *rle) above() uint32 {
	if r.pos < r.width {
		return 0
	}
	return r.out[r.pos-r.width]
}

func (r *rle) runLength(header int) (int, error) {
	switch {
	case header&0xC0 != 0xC0: // regular
		n := header & 0x1F
		if header>>5 == regularFGBGImage {
			if n == 0 {
				b, err := r.byte1()
				return b + 1, err
			}
			return n * 8, nil
		}
		if n == 0 {
			b, err := r.byte1()
			return b + 32, err
		}
		return n, nil
	case header&0xF0 == 0xF0: // mega-mega
		lo, err := r.byte1()
		if err != nil {
			return 0, err
		}
		hi, err := r.byte1()
		return lo | hi<<8, err
	}
	n := header & 0x0F // lite
	if header>>4 == liteSetFGFGBGImage {
		if n == 0 {
			b, err := r.byte1()
			return b + 1, err
		}
		return n * 8, nil
	}
	if n == 0 {
		b, err := r.byte1()
		return b + 16, err
	}
	return n, nil
}

// fgbg writes n pixels (≤ 8) from bitmask: set bits are the foreground
// (xor the row above), clear bits the row above.
func (r *rle) fgbg(mask, n int, fg uint32, first bool) {
	for i := 0; i < n; i++ {
		var p uint32
		if !first {
			p = r.above()
		}
		if mask&(1<<i) != 0 {
			p ^= fg
		}
		r.out[r.pos] = p
		r.pos++
	}
}

// interleaved decodes an interleaved RLE bitmap.
func interleaved(d *Data, pal *Palette, dst []byte) error {
	bp := bytesPer(d.BPP)
	white := uint32(1)<<uint(d.BPP) - 1
	if d.BPP == 24 {
		white = 0xFFFFFF
	}
	pp := pixPool.Get().(*[]uint32)
	defer pixPool.Put(pp)
	n := d.Width * d.Height
	if cap(*pp) < n {
		*pp = make([]uint32, n)
	}
	r := &rle{src: d.Bits, out: (*pp)[:n], width: d.Width, bp: bp}
	clear(r.out)
	fg := white
	insertFG := false
	first := true
	for len(r.src) > 0 {
		if first && r.pos >= r.width {
			first, insertFG = false, false
		}
		header := int(r.src[0])
		r.src = r.src[1:]
		var code int
		switch {
		case header&0xC0 != 0xC0:
			code = header >> 5
		case header&0xF0 == 0xF0:
			code = header
		default:
			code = header >> 4
		}
		if code == regularBGRun || code == megaMegaBGRun {
			run, err := r.runLength(header)
			if err != nil {
				return err
			}
			if err := r.room(run); err != nil {
				return err
			}
			if insertFG && run > 0 {
				r.out[r.pos] = r.aboveIf(first) ^ fg
				r.pos++
				run--
			}
			for ; run > 0; run-- {
				r.out[r.pos] = r.aboveIf(first)
				r.pos++
			}
			insertFG = true
			continue
		}
		insertFG = false
		switch code {
		case regularFGRun, megaMegaFGRun, liteSetFGFGRun, megaMegaSetFGRun:
			run, err := r.runLength(header)
			if err != nil {
				return err
			}
			if code == liteSetFGFGRun || code == megaMegaSetFGRun {
				if fg, err = r.pixel(); err != nil {
					return err
				}
			}
			if err := r.room(run); err != nil {
				return err
			}
			for ; run > 0; run-- {
				r.out[r.pos] = r.aboveIf(first) ^ fg
				r.pos++
			}
		case liteDitheredRun, megaMegaDitheredRun:
			run, err := r.runLength(header)
			if err != nil {
				return err
			}
			a, err := r.pixel()
			if err != nil {
				return err
			}
			b, err := r.pixel()
			if err != nil {
				return err
			}
			if err := r.room(2 * run); err != nil {
				return err
			}
			for ; run > 0; run-- {
				r.out[r.pos], r.out[r.pos+1] = a, b
				r.pos += 2
			}
		case regularColorRun, megaMegaColorRun:
			run, err := r.runLength(header)
			if err != nil {
				return err
			}
			p, err := r.pixel()
			if err != nil {
				return err
			}
			if err := r.room(run); err != nil {
				return err
			}
			for ; run > 0; run-- {
				r.out[r.pos] = p
				r.pos++
			}
		case regularFGBGImage, megaMegaFGBGImage, liteSetFGFGBGImage, megaMegaSetFGBGImage:
			run, err := r.runLength(header)
			if err != nil {
				return err
			}
			if code == liteSetFGFGBGImage || code == megaMegaSetFGBGImage {
				if fg, err = r.pixel(); err != nil {
					return err
				}
			}
			if err := r.room(run); err != nil {
				return err
			}
			for run > 0 {
				mask, err := r.byte1()
				if err != nil {
					return err
				}
				k := min(run, 8)
				r.fgbg(mask, k, fg, first)
				run -= k
			}
		case regularColorImage, megaMegaColorImage:
			run, err := r.runLength(header)
			if err != nil {
				return err
			}
			if err := r.room(run); err != nil {
				return err
			}
			for ; run > 0; run-- {
				p, err := r.pixel()
				if err != nil {
					return err
				}
				r.out[r.pos] = p
				r.pos++
			}
		case specialFGBG1, specialFGBG2:
			if err := r.room(8); err != nil {
				return err
			}
			mask := 0x03
			if code == specialFGBG2 {
				mask = 0x05
			}
			r.fgbg(mask, 8, fg, first)
		case specialWhite, specialBlack:
			if err := r.room(1); err != nil {
				return err
			}
			p := uint32(0)
			if code == specialWhite {
				p = white
			}
			r.out[r.pos] = p
			r.pos++
		default:
			return fmt.Errorf("%w: interleaved RLE order 0x%02x", ErrMalformed, header)
		}
	}
	toRGBA(r.out, d.Width, d.Height, d.BPP, pal, dst)
	return nil
}

func (r *rle) aboveIf(first bool) uint32 {
	if first {
		return 0
	}
	return r.above()
}

// toRGBA converts bottom-up pixel values to top-down RGBA.
func toRGBA(px []uint32, w, h, bpp int, pal *Palette, dst []byte) {
	for y := 0; y < h; y++ {
		row := px[(h-1-y)*w : (h-y)*w]
		o := dst[y*w*4:]
		for x, p := range row {
			var r, g, b byte
			switch bpp {
			case 24:
				r, g, b = byte(p>>16), byte(p>>8), byte(p)
			case 16, 15:
				r, g, b = pixel16(p, bpp)
			case 8:
				c := pal[p&0xFF]
				r, g, b = c[0], c[1], c[2]
			}
			o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = r, g, b, 255
		}
	}
}
