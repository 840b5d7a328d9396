package cli

import (
	"image"
	"image/color"
	"strings"
	"testing"
)

func TestHalfBlocks(t *testing.T) {
	// A 4×4 image: row y, column x has red 10*x, green 10*y, blue 0, with
	// the bottom two rows equal so colours repeat along a line.
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			img.Set(x, y, color.RGBA{uint8(10 * x), uint8(10 * min(y, 2)), 0, 255})
		}
	}
	img.Set(1, 2, color.RGBA{0, 20, 0, 255}) // same as (0,2): only the background changes
	tests := []struct {
		name       string
		cols, rows int
		want       string
	}{
		{"whole", 80, 24, "" +
			"\x1b[38;2;0;0;0m\x1b[48;2;0;10;0m▀\x1b[38;2;10;0;0m\x1b[48;2;10;10;0m▀\x1b[38;2;20;0;0m\x1b[48;2;20;10;0m▀\x1b[38;2;30;0;0m\x1b[48;2;30;10;0m▀\x1b[0m\r\n" +
			"\x1b[38;2;0;20;0m\x1b[48;2;0;20;0m▀\x1b[48;2;10;20;0m▀\x1b[38;2;20;20;0m\x1b[48;2;20;20;0m▀\x1b[38;2;30;20;0m\x1b[48;2;30;20;0m▀\x1b[0m"},
		{"halved to 2 columns", 2, 24, "" +
			"\x1b[38;2;0;0;0m\x1b[48;2;0;20;0m▀\x1b[38;2;20;0;0m\x1b[48;2;20;20;0m▀\x1b[0m"},
		{"one row", 80, 1, "" +
			"\x1b[38;2;0;0;0m\x1b[48;2;0;20;0m▀\x1b[38;2;20;0;0m\x1b[48;2;20;20;0m▀\x1b[0m"},
		{"no terminal", 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := halfBlocks(img, tt.cols, tt.rows)
			if got != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tt.want)
			}
			if tt.want != "" && strings.Count(got, "▀") != strings.Count(tt.want, "▀") {
				t.Fatal("cell count")
			}
		})
	}
	if got := halfBlocks(image.NewRGBA(image.Rectangle{}), 80, 24); got != "" {
		t.Fatalf("empty image drew %q", got)
	}
}
