// Package bitmap decodes RDP bitmap updates to RGBA pixels: the
// TS_UPDATE_BITMAP_DATA structure (MS-RDPBCGR 2.2.9.1.1.3.1.2) of slow-
// and fast-path bitmap updates, uncompressed bitmaps at 8 (palette), 15,
// 16, 24 and 32 bits per pixel, interleaved RLE (MS-RDPBCGR 2.2.9.1.1.3.1.2.4,
// 3.1.9) at 8/15/16/24 bpp, and RDP 6.0 planar compression
// (MS-RDPEGDI 2.2.2.5.1) at 32 bpp without color loss or chroma
// subsampling (the proxy clears those drawing flags in the bitmap
// capability set).
//
// RDP bitmaps are stored bottom-up; decoders return top-down RGBA rows
// (4 bytes per pixel, alpha 255). Every decoder bounds its output by the
// bitmap's declared size and returns an error wrapping ErrMalformed on
// inconsistent input, never panicking (fuzz targets in fuzz_test.go).
package bitmap

import "errors"

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("rdp bitmap: malformed data")

// MaxPixels bounds one bitmap's size (width*height).
const MaxPixels = 4096 * 4096
