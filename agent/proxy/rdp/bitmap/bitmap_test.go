package bitmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// rgba is a helper to write expected pixels.
func rgba(px ...[3]byte) []byte {
	var b []byte
	for _, p := range px {
		b = append(b, p[0], p[1], p[2], 255)
	}
	return b
}

var (
	red   = [3]byte{255, 0, 0}
	green = [3]byte{0, 255, 0}
	blue  = [3]byte{0, 0, 255}
	white = [3]byte{255, 255, 255}
	black = [3]byte{0, 0, 0}
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Data
		want []byte
	}{
		{"raw 32 bpp bottom-up", Data{Width: 2, Height: 2, BPP: 32, Bits: []byte{
			0, 0, 255, 0, 0, 255, 0, 0, // bottom row: red, green (BGRX)
			255, 0, 0, 0, 255, 255, 255, 0}}, // top row: blue, white
			rgba(blue, white, red, green)},
		{"raw 24 bpp padded rows", Data{Width: 1, Height: 2, BPP: 24, Bits: []byte{0, 0, 255, 0, 255, 0, 0, 0}},
			rgba(blue, red)},
		{"raw 16 bpp", Data{Width: 2, Height: 1, BPP: 16, Bits: []byte{0x00, 0xF8, 0xE0, 0x07}}, rgba(red, green)},
		{"raw 15 bpp", Data{Width: 2, Height: 1, BPP: 15, Bits: []byte{0x00, 0x7C, 0x1F, 0x00}}, rgba(red, blue)},
		{"interleaved 24 bpp color image then background run", Data{Width: 2, Height: 2, BPP: 24, Flags: FlagCompression | FlagNoHeader,
			Bits: []byte{0x82, 0, 0, 255, 0, 255, 0, 0x02}}, rgba(red, green, red, green)},
		{"interleaved 24 bpp foreground run xors the row above", Data{Width: 2, Height: 2, BPP: 24, Flags: FlagCompression | FlagNoHeader,
			Bits: []byte{0x62, 0, 0, 255, 0x22}}, rgba([3]byte{0, 255, 255}, [3]byte{0, 255, 255}, red, red)},
		{"interleaved 16 bpp white, black, color run", Data{Width: 4, Height: 1, BPP: 16, Flags: FlagCompression | FlagNoHeader,
			Bits: []byte{0xFD, 0xFE, 0x62, 0x1F, 0x00}}, rgba(white, black, blue, blue)},
		{"interleaved 16 bpp dithered run", Data{Width: 4, Height: 1, BPP: 16, Flags: FlagCompression | FlagNoHeader,
			Bits: []byte{0xE2, 0x00, 0xF8, 0x1F, 0x00}}, rgba(red, blue, red, blue)},
		{"interleaved 24 bpp fgbg image on the second row", Data{Width: 4, Height: 2, BPP: 24, Flags: FlagCompression | FlagNoHeader,
			Bits: []byte{0x64, 0, 0, 0, 0x40, 0x03, 0x05}}, rgba(white, black, white, black, black, black, black, black)},
		{"interleaved with a compression header", Data{Width: 1, Height: 1, BPP: 24, Flags: FlagCompression,
			Bits: []byte{0x81, 255, 0, 0}}, rgba(blue)},
		{"planar raw planes without alpha", Data{Width: 2, Height: 1, BPP: 32, Flags: FlagCompression | FlagNoHeader,
			Bits: []byte{0x20, 255, 0, 0, 255, 0, 0, 0}}, rgba(red, green)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			if d.Flags&FlagCompression != 0 && d.Flags&FlagNoHeader == 0 {
				hdr := make([]byte, 8)
				binary.LittleEndian.PutUint16(hdr[2:], uint16(len(d.Bits)))
				upd := []byte{1, 0, 1, 0}
				rect := make([]byte, 18)
				binary.LittleEndian.PutUint16(rect[8:], uint16(d.Width))
				binary.LittleEndian.PutUint16(rect[10:], uint16(d.Height))
				binary.LittleEndian.PutUint16(rect[12:], uint16(d.BPP))
				binary.LittleEndian.PutUint16(rect[14:], d.Flags)
				binary.LittleEndian.PutUint16(rect[16:], uint16(8+len(d.Bits)))
				ds, err := ParseUpdate(append(append(append(upd, rect...), hdr...), d.Bits...), nil)
				if err != nil {
					t.Fatal(err)
				}
				d = ds[0]
			}
			got, err := Decode(&d, &Palette{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestPlanarRLE(t *testing.T) {
	// 2x2, no alpha. Each plane: bottom scanline raw (control 0x20: two
	// raw bytes), top scanline deltas (even v: +v/2, odd v: -(v/2+1)).
	plane := func(a, b, da, db byte) []byte { return []byte{0x20, a, b, 0x20, da, db} }
	bits := []byte{0x30}
	bits = append(bits, plane(10, 20, 4, 3)...)           // red: bottom 10,20; top 12,18
	bits = append(bits, plane(0, 0, 0, 0)...)             // green: 0 everywhere
	bits = append(bits, 0x20, 200, 200, 0x10, 0, 0x10, 0) // blue: 200 everywhere, top as two 1-byte segments
	d := Data{Width: 2, Height: 2, BPP: 32, Flags: FlagCompression | FlagNoHeader, Bits: bits}
	got, err := Decode(&d, &Palette{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := rgba([3]byte{12, 0, 200}, [3]byte{18, 0, 200}, [3]byte{10, 0, 200}, [3]byte{20, 0, 200})
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// A run segment: control 0x02 with raw 0 is a run of 32: too long.
	d.Bits = []byte{0x30, 0x02}
	if _, err := Decode(&d, &Palette{}, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("overlong run: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Data
	}{
		{"zero size", Data{Width: 0, Height: 1, BPP: 32}},
		{"huge", Data{Width: 65535, Height: 65535, BPP: 32}},
		{"bad bpp", Data{Width: 1, Height: 1, BPP: 12}},
		{"short raw", Data{Width: 4, Height: 4, BPP: 32, Bits: []byte{1, 2, 3}}},
		{"interleaved run overflow", Data{Width: 2, Height: 1, BPP: 24, Flags: FlagCompression | FlagNoHeader, Bits: []byte{0x63, 0, 0, 0}}},
		{"interleaved truncated pixel", Data{Width: 2, Height: 1, BPP: 24, Flags: FlagCompression | FlagNoHeader, Bits: []byte{0x81, 0}}},
		{"planar color loss", Data{Width: 1, Height: 1, BPP: 32, Flags: FlagCompression | FlagNoHeader, Bits: []byte{0x21, 1, 1, 1, 0}}},
		{"planar short plane", Data{Width: 2, Height: 2, BPP: 32, Flags: FlagCompression | FlagNoHeader, Bits: []byte{0x20, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode(&tc.d, &Palette{}, nil); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			}
		})
	}
}

func TestPalette(t *testing.T) {
	b := []byte{2, 0, 0, 0, 2, 0, 0, 0, 1, 2, 3, 4, 5, 6}
	var p Palette
	if err := ParsePalette(b, &p); err != nil || p[1] != [3]byte{4, 5, 6} {
		t.Fatalf("%v %v", p[1], err)
	}
	d := Data{Width: 2, Height: 1, BPP: 8, Bits: []byte{1, 0, 0, 0}}
	got, err := Decode(&d, &p, nil)
	if err != nil || !bytes.Equal(got, []byte{4, 5, 6, 255, 1, 2, 3, 255}) {
		t.Fatalf("%v %v", got, err)
	}
}
