package rfb

import (
	"encoding/binary"
	"fmt"
)

// PixelFormat is RFB's PIXEL_FORMAT (16 bytes on the wire).
type PixelFormat struct {
	BPP        uint8 // bits per pixel: 8, 16 or 32
	Depth      uint8
	BigEndian  bool
	TrueColour bool
	RedMax     uint16
	GreenMax   uint16
	BlueMax    uint16
	RedShift   uint8
	GreenShift uint8
	BlueShift  uint8
}

// PF32 is the 32-bit little-endian true-colour format (blue in the lowest
// byte) that most servers default to.
var PF32 = PixelFormat{BPP: 32, Depth: 24, TrueColour: true, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8, BlueShift: 0}

// ParsePixelFormat decodes and validates 16 wire bytes.
func ParsePixelFormat(b []byte) (PixelFormat, error) {
	if len(b) < 16 {
		return PixelFormat{}, protoErr("pixel format: %d bytes", len(b))
	}
	pf := PixelFormat{
		BPP: b[0], Depth: b[1], BigEndian: b[2] != 0, TrueColour: b[3] != 0,
		RedMax: binary.BigEndian.Uint16(b[4:]), GreenMax: binary.BigEndian.Uint16(b[6:]), BlueMax: binary.BigEndian.Uint16(b[8:]),
		RedShift: b[10], GreenShift: b[11], BlueShift: b[12],
	}
	return pf, pf.Validate()
}

// Validate checks that pixels of the format can be decoded.
func (pf PixelFormat) Validate() error {
	if pf.BPP != 8 && pf.BPP != 16 && pf.BPP != 32 {
		return protoErr("pixel format: %d bits per pixel (want 8, 16 or 32)", pf.BPP)
	}
	if pf.TrueColour {
		for _, c := range []struct {
			max   uint16
			shift uint8
		}{{pf.RedMax, pf.RedShift}, {pf.GreenMax, pf.GreenShift}, {pf.BlueMax, pf.BlueShift}} {
			if c.max == 0 || c.max&(c.max+1) != 0 || int(c.shift) >= int(pf.BPP) {
				return protoErr("pixel format: colour maximum %d (want 2^n-1) or shift %d out of range", c.max, c.shift)
			}
		}
	}
	return nil
}

// Bytes encodes the format's 16 wire bytes.
func (pf PixelFormat) Bytes() []byte {
	b := make([]byte, 16)
	b[0], b[1] = pf.BPP, pf.Depth
	if pf.BigEndian {
		b[2] = 1
	}
	if pf.TrueColour {
		b[3] = 1
	}
	binary.BigEndian.PutUint16(b[4:], pf.RedMax)
	binary.BigEndian.PutUint16(b[6:], pf.GreenMax)
	binary.BigEndian.PutUint16(b[8:], pf.BlueMax)
	b[10], b[11], b[12] = pf.RedShift, pf.GreenShift, pf.BlueShift
	return b
}

func (pf PixelFormat) String() string {
	return fmt.Sprintf("%dbpp depth %d big-endian %v true-colour %v max %d/%d/%d shift %d/%d/%d",
		pf.BPP, pf.Depth, pf.BigEndian, pf.TrueColour, pf.RedMax, pf.GreenMax, pf.BlueMax, pf.RedShift, pf.GreenShift, pf.BlueShift)
}

// converter turns pixels of one format into RGBA.
type converter struct {
	pf      PixelFormat
	bpp     int // bytes per pixel
	fast    bool
	r, g, b []byte // scale tables: channel value → 0..255
	cmap    [256][3]byte
	cpixel  int // bytes per ZRLE CPIXEL
	cpOff   int // offset of the CPIXEL's bytes within a full pixel
}

func newConverter(pf PixelFormat) *converter {
	c := &converter{pf: pf, bpp: int(pf.BPP) / 8}
	if pf.TrueColour {
		c.r, c.g, c.b = scale(pf.RedMax), scale(pf.GreenMax), scale(pf.BlueMax)
		c.fast = pf.BPP == 32 && !pf.BigEndian && pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255 &&
			pf.RedShift == 16 && pf.GreenShift == 8 && pf.BlueShift == 0
	}
	c.cpixel, c.cpOff = c.bpp, 0
	if pf.TrueColour && pf.BPP == 32 && pf.Depth <= 24 {
		all := uint32(pf.RedMax)<<pf.RedShift | uint32(pf.GreenMax)<<pf.GreenShift | uint32(pf.BlueMax)<<pf.BlueShift
		switch {
		case all <= 0xffffff: // the least significant 3 bytes
			c.cpixel = 3
			if pf.BigEndian {
				c.cpOff = 1
			}
		case all&0xff == 0: // the most significant 3 bytes
			c.cpixel = 3
			if !pf.BigEndian {
				c.cpOff = 1
			}
		}
	}
	return c
}

func scale(max uint16) []byte {
	t := make([]byte, int(max)+1)
	for i := range t {
		t[i] = byte((i*255 + int(max)/2) / int(max))
	}
	return t
}

// value reads one pixel value of the format from b.
func (c *converter) value(b []byte) uint32 {
	switch c.bpp {
	case 1:
		return uint32(b[0])
	case 2:
		if c.pf.BigEndian {
			return uint32(binary.BigEndian.Uint16(b))
		}
		return uint32(binary.LittleEndian.Uint16(b))
	}
	if c.pf.BigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// rgba converts one pixel (c.bpp bytes) into dst[0:4].
func (c *converter) rgba(dst, b []byte) {
	if c.fast {
		dst[0], dst[1], dst[2], dst[3] = b[2], b[1], b[0], 0xff
		return
	}
	v := c.value(b)
	if !c.pf.TrueColour {
		e := c.cmap[v&0xff]
		dst[0], dst[1], dst[2], dst[3] = e[0], e[1], e[2], 0xff
		return
	}
	pf := c.pf
	dst[0] = c.r[(v>>pf.RedShift)&uint32(pf.RedMax)]
	dst[1] = c.g[(v>>pf.GreenShift)&uint32(pf.GreenMax)]
	dst[2] = c.b[(v>>pf.BlueShift)&uint32(pf.BlueMax)]
	dst[3] = 0xff
}

// row converts n pixels.
func (c *converter) row(dst, src []byte, n int) {
	if c.fast {
		for i, j := 0, 0; i < n; i, j = i+1, j+4 {
			dst[j], dst[j+1], dst[j+2], dst[j+3] = src[j+2], src[j+1], src[j], 0xff
		}
		return
	}
	for i := 0; i < n; i++ {
		c.rgba(dst[i*4:], src[i*c.bpp:])
	}
}

// cpixelRGBA converts one ZRLE CPIXEL.
func (c *converter) cpixelRGBA(dst, b []byte) {
	if c.cpixel == c.bpp {
		c.rgba(dst, b)
		return
	}
	var full [4]byte
	copy(full[c.cpOff:], b[:3])
	c.rgba(dst, full[:])
}
