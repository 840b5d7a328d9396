package rdp

import (
	"encoding/binary"
	"fmt"
	"image"

	"github.com/onepam/onepam/agent/proxy/rdp/wire"
)

// Offsets into capability set data (after the 4-byte header).
const (
	orderCapFlags        = 30 // orderFlags u16
	orderCapSupport      = 32 // orderSupport[32]
	orderCapSupportEx    = 66 // orderSupportExFlags u16
	vcCapFlags           = 0  // virtual channel flags u32
	drawAllowDynamicFid  = 0x02
	drawAllowSubsampling = 0x04
	glyphCapSupportLevel = 44 // GlyphSupportLevel u16
	offscreenCapSupport  = 0  // offscreenSupportLevel u32
	brushCapSupport      = 0  // brushSupportLevel u32
)

// restrictCaps rewrites a Demand Active or Confirm Active so that only
// bitmap updates the recording decodes can be sent: it drops the
// surface commands, bitmap codecs and frame acknowledge sets (no
// RemoteFX, NSCodec, GFX surfaces), clears every drawing order and the
// caches that only serve orders, switches off planar color loss and
// chroma subsampling, and virtual channel compression.
func restrictCaps(a *wire.ActivePDU) {
	out := a.Caps[:0]
	for _, c := range a.Caps {
		d := c.Data
		switch c.Type {
		case wire.CapSurfaceCommands, wire.CapBitmapCodecs, wire.CapFrameAcknowledge:
			continue
		case wire.CapOrder:
			if len(d) >= orderCapSupport+32 {
				clear(d[orderCapSupport : orderCapSupport+32])
			}
			if len(d) >= orderCapSupportEx+2 {
				d[orderCapSupportEx], d[orderCapSupportEx+1] = 0, 0
			}
		case wire.CapBitmap:
			if len(d) > wire.BitmapCapDrawingFlags {
				d[wire.BitmapCapDrawingFlags] &^= drawAllowDynamicFid | drawAllowSubsampling
			}
		case wire.CapVirtualChannel:
			if len(d) >= 4 {
				binary.LittleEndian.PutUint32(d, 0)
			}
		case wire.CapGlyphCache:
			if len(d) >= glyphCapSupportLevel+2 {
				d[glyphCapSupportLevel], d[glyphCapSupportLevel+1] = 0, 0
			}
		case wire.CapOffscreenCache:
			if len(d) >= 4 {
				binary.LittleEndian.PutUint32(d, 0)
			}
		case wire.CapBitmapCacheRev2:
			if len(d) >= 4 {
				d[3] = 0 // numCellCaches
			}
		}
		out = append(out, c)
	}
	a.Caps = out
}

// resize records the desktop size of a Demand Active.
func (r *rdpRelay) resize(a *wire.ActivePDU) error {
	w, h, _, err := wire.DesktopSize(a.Find(wire.CapBitmap))
	if err != nil {
		return fmt.Errorf("server demand active: %w", err)
	}
	if w < 1 || h < 1 || w*h > 1<<26 {
		return protocolError("the server's desktop is %dx%d", w, h)
	}
	r.width, r.height = w, h
	if ew, eh := r.s.enc.Size(); ew == w && eh == h {
		return nil
	}
	return rec(r.s.enc.Resize(r.s.since(), w, h))
}

func imageRect(x, y, w, h int) image.Rectangle { return image.Rect(x, y, x+w, y+h) }

func getU16(b []byte) uint16    { return binary.LittleEndian.Uint16(b) }
func getU32(b []byte) uint32    { return binary.LittleEndian.Uint32(b) }
func putU16(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }
func putU32(b []byte, v uint32) { binary.LittleEndian.PutUint32(b, v) }
