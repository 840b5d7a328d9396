package deskproto

import (
	"image"
	"image/color"
)

// The drawing operations shared by the Encoder's copy of the screen and
// the Renderer. Callers check that rectangles lie inside img.

// newScreen returns a black, opaque w×h framebuffer.
func newScreen(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xff
	}
	return img
}

// resized returns a w×h framebuffer holding the overlapping top-left part
// of img, black elsewhere.
func resized(img *image.RGBA, w, h int) *image.RGBA {
	out := newScreen(w, h)
	if img != nil {
		r := img.Bounds().Intersect(out.Bounds())
		for y := r.Min.Y; y < r.Max.Y; y++ {
			copy(out.Pix[y*out.Stride:y*out.Stride+r.Dx()*4], img.Pix[y*img.Stride:y*img.Stride+r.Dx()*4])
		}
	}
	return out
}

// inside reports whether r is non-empty and lies inside img.
func inside(img *image.RGBA, r image.Rectangle) bool {
	return img != nil && !r.Empty() && r.In(img.Bounds())
}

// putRGBA copies RGBA pixels (rows of stride bytes) into r of img.
func putRGBA(img *image.RGBA, r image.Rectangle, pix []byte, stride int) {
	n := r.Dx() * 4
	for y := 0; y < r.Dy(); y++ {
		o := (r.Min.Y+y)*img.Stride + r.Min.X*4
		copy(img.Pix[o:o+n], pix[y*stride:y*stride+n])
	}
}

// sameRGBA reports whether r of img already holds pix.
func sameRGBA(img *image.RGBA, r image.Rectangle, pix []byte, stride int) bool {
	n := r.Dx() * 4
	for y := 0; y < r.Dy(); y++ {
		o := (r.Min.Y+y)*img.Stride + r.Min.X*4
		if string(img.Pix[o:o+n]) != string(pix[y*stride:y*stride+n]) {
			return false
		}
	}
	return true
}

// fill paints r of img with c (made opaque).
func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	c.A = 0xff
	n := r.Dx() * 4
	row := img.Pix[r.Min.Y*img.Stride+r.Min.X*4:][:n]
	for i := 0; i < n; i += 4 {
		row[i], row[i+1], row[i+2], row[i+3] = c.R, c.G, c.B, c.A
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		o := y*img.Stride + r.Min.X*4
		copy(img.Pix[o:o+n], row)
	}
}

// isFilled reports whether r of img is all c.
func isFilled(img *image.RGBA, r image.Rectangle, c color.RGBA) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride+r.Min.X*4:][:r.Dx()*4]
		for i := 0; i < len(row); i += 4 {
			if row[i] != c.R || row[i+1] != c.G || row[i+2] != c.B {
				return false
			}
		}
	}
	return true
}

// solid returns the colour of RGBA pixels when they are all the same.
func solid(w, h int, pix []byte, stride int) (color.RGBA, bool) {
	c := color.RGBA{pix[0], pix[1], pix[2], 0xff}
	for y := 0; y < h; y++ {
		row := pix[y*stride:][:w*4]
		for i := 0; i < len(row); i += 4 {
			if row[i] != c.R || row[i+1] != c.G || row[i+2] != c.B {
				return c, false
			}
		}
	}
	return c, true
}

// copyRect copies the rectangle of r's size at src to r, as if the source
// were read completely first.
func copyRect(img *image.RGBA, src image.Point, r image.Rectangle) {
	n := r.Dx() * 4
	rows := r.Dy()
	for i := 0; i < rows; i++ {
		y := i
		if r.Min.Y > src.Y { // copying down: bottom row first
			y = rows - 1 - i
		}
		so := (src.Y+y)*img.Stride + src.X*4
		do := (r.Min.Y+y)*img.Stride + r.Min.X*4
		copy(img.Pix[do:do+n], img.Pix[so:so+n]) // copy handles overlap within a row
	}
}

// appendRGB appends r of img as 3-byte RGB pixels.
func appendRGB(dst []byte, img *image.RGBA, r image.Rectangle) []byte {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride+r.Min.X*4:][:r.Dx()*4]
		for i := 0; i < len(row); i += 4 {
			dst = append(dst, row[i], row[i+1], row[i+2])
		}
	}
	return dst
}

// rgbToRGBA expands 3-byte RGB pixels to opaque RGBA in dst (grown as
// needed).
func rgbToRGBA(dst, rgb []byte) []byte {
	n := len(rgb) / 3 * 4
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	for i, j := 0, 0; i+2 < len(rgb); i, j = i+3, j+4 {
		dst[j], dst[j+1], dst[j+2], dst[j+3] = rgb[i], rgb[i+1], rgb[i+2], 0xff
	}
	return dst
}
