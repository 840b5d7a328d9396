package cli

import (
	"image"
	"strconv"
	"strings"
)

// halfBlocks draws img in a terminal of cols×rows character cells with
// true-colour half blocks: each cell is "▀" with the upper pixel as its
// foreground (ESC[38;2;R;G;Bm) and the lower pixel as its background
// (ESC[48;2;R;G;Bm), so a cell shows two pixels stacked. The image is
// scaled down (nearest pixel, aspect kept, never up) to fit cols wide and
// 2*rows high. A colour is written only when it changes from the cell
// before; every line ends with ESC[0m and lines are separated by "\r\n"
// (the terminal may be raw). An empty image or terminal draws nothing.
func halfBlocks(img image.Image, cols, rows int) string {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || cols <= 0 || rows <= 0 {
		return ""
	}
	dw, dh := w, h
	if dw > cols || dh > 2*rows {
		// the larger of the two shrink factors, in integers: dw/w = dh/h
		if cols*h <= 2*rows*w {
			dw, dh = cols, max(h*cols/w, 1)
		} else {
			dw, dh = max(w*2*rows/h, 1), 2*rows
		}
	}
	px := func(x, y int) [3]uint8 {
		if y >= dh {
			return [3]uint8{}
		}
		r, g, bl, _ := img.At(b.Min.X+x*w/dw, b.Min.Y+y*h/dh).RGBA()
		return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}
	}
	var sb strings.Builder
	sb.Grow(dw * (dh + 1) / 2 * 40)
	for y := 0; y < dh; y += 2 {
		if y > 0 {
			sb.WriteString("\r\n")
		}
		var fg, bg [3]uint8
		for x := 0; x < dw; x++ {
			up, lo := px(x, y), px(x, y+1)
			if x == 0 || up != fg {
				writeSGR(&sb, "38", up)
				fg = up
			}
			if x == 0 || lo != bg {
				writeSGR(&sb, "48", lo)
				bg = lo
			}
			sb.WriteString("▀")
		}
		sb.WriteString("\x1b[0m")
	}
	return sb.String()
}

func writeSGR(sb *strings.Builder, which string, c [3]uint8) {
	sb.WriteString("\x1b[")
	sb.WriteString(which)
	sb.WriteString(";2;")
	sb.WriteString(strconv.Itoa(int(c[0])))
	sb.WriteByte(';')
	sb.WriteString(strconv.Itoa(int(c[1])))
	sb.WriteByte(';')
	sb.WriteString(strconv.Itoa(int(c[2])))
	sb.WriteByte('m')
}
