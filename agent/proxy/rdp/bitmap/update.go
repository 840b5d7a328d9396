package bitmap

import (
	"encoding/binary"
	"fmt"
)

// Bitmap data flags.
const (
	FlagCompression = 0x0001 // BITMAP_COMPRESSION
	FlagNoHeader    = 0x0400 // NO_BITMAP_COMPRESSION_HDR
)

// Data is one TS_BITMAP_DATA: destLeft, destTop, destRight, destBottom
// u16 (inclusive screen coordinates), width, height u16 (the bitmap's
// size, possibly padded beyond the destination), bitsPerPixel u16,
// flags u16, bitmapLength u16, then an 8-byte TS_CD_HEADER
// (cbCompFirstRowSize, cbCompMainBodySize, cbScanWidth,
// cbUncompressedSize u16) when compressed without
// NO_BITMAP_COMPRESSION_HDR, and the bitmap bytes.
type Data struct {
	Left, Top, Right, Bottom int
	Width, Height            int
	BPP                      int
	Flags                    uint16
	Bits                     []byte // refers into the update
}

// ParseUpdate decodes a TS_UPDATE_BITMAP_DATA (updateType u16 = 1,
// numberRectangles u16, rectangles) into dst[:0].
func ParseUpdate(b []byte, dst []Data) ([]Data, error) {
	if len(b) < 4 || binary.LittleEndian.Uint16(b) != 1 {
		return nil, fmt.Errorf("%w: not a bitmap update", ErrMalformed)
	}
	n := int(binary.LittleEndian.Uint16(b[2:]))
	b = b[4:]
	dst = dst[:0]
	for i := 0; i < n; i++ {
		if len(b) < 18 {
			return nil, fmt.Errorf("%w: bitmap rectangle %d of %d truncated", ErrMalformed, i+1, n)
		}
		le := binary.LittleEndian
		d := Data{
			Left: int(le.Uint16(b)), Top: int(le.Uint16(b[2:])), Right: int(le.Uint16(b[4:])), Bottom: int(le.Uint16(b[6:])),
			Width: int(le.Uint16(b[8:])), Height: int(le.Uint16(b[10:])), BPP: int(le.Uint16(b[12:])), Flags: le.Uint16(b[14:]),
		}
		size := int(le.Uint16(b[16:]))
		b = b[18:]
		if size > len(b) {
			return nil, fmt.Errorf("%w: bitmap of %d bytes in %d", ErrMalformed, size, len(b))
		}
		d.Bits, b = b[:size], b[size:]
		if d.Flags&FlagCompression != 0 && d.Flags&FlagNoHeader == 0 {
			if len(d.Bits) < 8 {
				return nil, fmt.Errorf("%w: compressed bitmap header truncated", ErrMalformed)
			}
			body := int(le.Uint16(d.Bits[2:]))
			if body > len(d.Bits)-8 {
				return nil, fmt.Errorf("%w: compressed body of %d bytes in %d", ErrMalformed, body, len(d.Bits)-8)
			}
			d.Bits = d.Bits[8 : 8+body]
		}
		dst = append(dst, d)
	}
	return dst, nil
}

// Palette is an 8-bpp color table (RGB).
type Palette [256][3]byte

// ParsePalette decodes a TS_UPDATE_PALETTE_DATA (updateType u16 = 2,
// pad u16, numberColors u32 (≤ 256), numberColors × RGB bytes) into p.
func ParsePalette(b []byte, p *Palette) error {
	if len(b) < 8 || binary.LittleEndian.Uint16(b) != 2 {
		return fmt.Errorf("%w: not a palette update", ErrMalformed)
	}
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if n > 256 || len(b) < 8+3*n {
		return fmt.Errorf("%w: palette of %d colors in %d bytes", ErrMalformed, n, len(b))
	}
	for i := 0; i < n; i++ {
		copy(p[i][:], b[8+3*i:])
	}
	return nil
}

// Decode decodes d into dst (grown as needed) as d.Width×d.Height RGBA
// pixels, top row first, and returns it.
func Decode(d *Data, pal *Palette, dst []byte) ([]byte, error) {
	if d.Width <= 0 || d.Height <= 0 || d.Width*d.Height > MaxPixels {
		return nil, fmt.Errorf("%w: bitmap size %dx%d", ErrMalformed, d.Width, d.Height)
	}
	bpp := d.BPP
	switch bpp {
	case 8, 15, 16, 24, 32:
	default:
		return nil, fmt.Errorf("%w: %d bits per pixel", ErrMalformed, bpp)
	}
	n := d.Width * d.Height * 4
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	if d.Flags&FlagCompression == 0 {
		return dst, raw(d, pal, dst)
	}
	if bpp == 32 {
		return dst, planar(d.Bits, d.Width, d.Height, dst)
	}
	return dst, interleaved(d, pal, dst)
}

// bytesPer returns the bytes of one pixel at bpp.
func bytesPer(bpp int) int { return (bpp + 7) / 8 }

// raw converts uncompressed bottom-up rows (each padded to a multiple of
// 4 bytes when the data is that long) to top-down RGBA.
func raw(d *Data, pal *Palette, dst []byte) error {
	bp := bytesPer(d.BPP)
	stride := d.Width * bp
	if padded := (stride + 3) &^ 3; len(d.Bits) >= padded*d.Height {
		stride = padded
	}
	if len(d.Bits) < stride*d.Height {
		return fmt.Errorf("%w: uncompressed %dx%d bitmap at %d bpp needs %d bytes, has %d", ErrMalformed, d.Width, d.Height, d.BPP, stride*d.Height, len(d.Bits))
	}
	for y := 0; y < d.Height; y++ {
		src := d.Bits[(d.Height-1-y)*stride:]
		convertRow(dst[y*d.Width*4:(y+1)*d.Width*4], src, d.BPP, pal)
	}
	return nil
}

// convertRow converts one row of pixels at bpp (little-endian) to RGBA.
func convertRow(dst, src []byte, bpp int, pal *Palette) {
	w := len(dst) / 4
	switch bpp {
	case 32:
		for x := 0; x < w; x++ {
			s := src[4*x:]
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = s[2], s[1], s[0], 255
		}
	case 24:
		for x := 0; x < w; x++ {
			s := src[3*x:]
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = s[2], s[1], s[0], 255
		}
	case 16, 15:
		for x := 0; x < w; x++ {
			p := uint32(src[2*x]) | uint32(src[2*x+1])<<8
			r, g, b := pixel16(p, bpp)
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = r, g, b, 255
		}
	case 8:
		for x := 0; x < w; x++ {
			c := pal[src[x]]
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = c[0], c[1], c[2], 255
		}
	}
}

// pixel16 expands an RGB565 (16) or RGB555 (15) pixel.
func pixel16(p uint32, bpp int) (r, g, b byte) {
	if bpp == 16 {
		r5, g6, b5 := (p>>11)&0x1F, (p>>5)&0x3F, p&0x1F
		return byte(r5<<3 | r5>>2), byte(g6<<2 | g6>>4), byte(b5<<3 | b5>>2)
	}
	r5, g5, b5 := (p>>10)&0x1F, (p>>5)&0x1F, p&0x1F
	return byte(r5<<3 | r5>>2), byte(g5<<3 | g5>>2), byte(b5<<3 | b5>>2)
}
