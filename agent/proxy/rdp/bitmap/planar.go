package bitmap

import "fmt"

// Planar format header bits (RDP 6.0 bitmap compression,
// MS-RDPEGDI 2.2.2.5.1): color loss level in bits 0-2, chroma
// subsampling bit 3, RLE bit 4, no alpha plane bit 5.
const (
	planarCLLMask = 0x07
	planarCS      = 0x08
	planarRLE     = 0x10
	planarNoAlpha = 0x20
)

// planar decodes an RDP 6.0 planar bitmap: a format header byte, then
// the alpha (unless NA), red, green and blue planes of w×h bytes each,
// bottom row first. Raw planes end with one pad byte; RLE planes are
// scanlines of segments: a control byte (raw count in the high nibble,
// run length in the low nibble; run length 1 or 2 means a run of
// 16 + or 32 + the high nibble without raw bytes), the raw bytes, then
// the run repeating the last value. The first scanline holds values,
// later ones deltas to the scanline before (even v: +v/2, odd v:
// -(v/2+1)).
func planar(src []byte, w, h int, dst []byte) error {
	if len(src) < 1 {
		return fmt.Errorf("%w: empty planar bitmap", ErrMalformed)
	}
	hdr := src[0]
	src = src[1:]
	if hdr&planarCLLMask != 0 || hdr&planarCS != 0 {
		return fmt.Errorf("%w: planar bitmap with color loss or chroma subsampling (header 0x%02x), which was not negotiated", ErrMalformed, hdr)
	}
	planes := []int{3, 0, 1, 2} // alpha, red, green, blue → RGBA offsets
	if hdr&planarNoAlpha != 0 {
		planes = planes[1:]
		for i := 3; i < len(dst); i += 4 {
			dst[i] = 255
		}
	}
	n := w * h
	for _, off := range planes {
		if hdr&planarRLE == 0 {
			if len(src) < n {
				return fmt.Errorf("%w: raw planar plane needs %d bytes, has %d", ErrMalformed, n, len(src))
			}
			for y := 0; y < h; y++ {
				row := src[(h-1-y)*w:]
				o := dst[y*w*4+off:]
				for x := 0; x < w; x++ {
					o[4*x] = row[x]
				}
			}
			src = src[n:]
			continue
		}
		var err error
		if src, err = planarRLEPlane(src, w, h, dst, off); err != nil {
			return err
		}
	}
	for i := 3; i < len(dst); i += 4 {
		dst[i] = 255 // the framebuffer is opaque
	}
	return nil
}

// planarRLEPlane decodes one RLE plane into channel off of dst (top-down
// RGBA) and returns the bytes after it.
func planarRLEPlane(src []byte, w, h int, dst []byte, off int) ([]byte, error) {
	stride := w * 4
	for y := 0; y < h; y++ {
		row := dst[(h-1-y)*stride+off:] // decoding order is bottom-up
		var prev []byte
		if y > 0 {
			prev = dst[(h-y)*stride+off:]
		}
		var v byte
		for x := 0; x < w; {
			if len(src) < 1 {
				return nil, fmt.Errorf("%w: planar RLE plane ends early", ErrMalformed)
			}
			ctl := src[0]
			src = src[1:]
			run, raws := int(ctl&0x0F), int(ctl>>4)
			switch run {
			case 1:
				run, raws = raws+16, 0
			case 2:
				run, raws = raws+32, 0
			}
			if x+raws+run > w || len(src) < raws {
				return nil, fmt.Errorf("%w: planar RLE segment overflows the scanline", ErrMalformed)
			}
			for ; raws > 0; raws-- {
				v = src[0]
				src = src[1:]
				row[4*x] = planarValue(prev, x, v)
				x++
			}
			for ; run > 0; run-- {
				row[4*x] = planarValue(prev, x, v)
				x++
			}
		}
	}
	return src, nil
}

// planarValue applies a delta-coded value to the scanline before (or
// returns the value itself on the first scanline).
func planarValue(prev []byte, x int, v byte) byte {
	if prev == nil {
		return v
	}
	if v&1 != 0 {
		return prev[4*x] - (v>>1 + 1)
	}
	return prev[4*x] + v>>1
}
