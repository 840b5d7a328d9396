package bitmap

import "testing"

// FuzzDecode decodes arbitrary bitmaps of small sizes with every codec.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(2), uint8(2), uint8(24), uint16(FlagCompression|FlagNoHeader), []byte{0x82, 0, 0, 255, 0, 255, 0, 0x02})
	f.Add(uint8(4), uint8(2), uint8(24), uint16(FlagCompression|FlagNoHeader), []byte{0x64, 0, 0, 0, 0x40, 0x03, 0x05})
	f.Add(uint8(4), uint8(1), uint8(16), uint16(FlagCompression|FlagNoHeader), []byte{0xFD, 0xFE, 0xF3, 0x02, 0x00, 0x1F, 0x00})
	f.Add(uint8(2), uint8(2), uint8(32), uint16(FlagCompression|FlagNoHeader), []byte{0x30, 0x20, 10, 20, 0x20, 4, 3, 0x20, 0, 0, 0x20, 0, 0, 0x20, 200, 200, 0x10, 0, 0x10, 0})
	f.Add(uint8(2), uint8(1), uint8(32), uint16(FlagCompression|FlagNoHeader), []byte{0x20, 255, 0, 0, 255, 0, 0, 0})
	f.Add(uint8(1), uint8(2), uint8(8), uint16(0), []byte{1, 0, 0, 0, 2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, w, h, bpp uint8, flags uint16, bits []byte) {
		d := Data{Width: int(w), Height: int(h), BPP: int(bpp), Flags: flags | FlagNoHeader, Bits: bits}
		out, err := Decode(&d, &Palette{}, nil)
		if err == nil && len(out) != int(w)*int(h)*4 {
			t.Fatalf("decoded %d bytes for %dx%d", len(out), w, h)
		}
	})
}

// FuzzUpdate parses bitmap and palette updates and decodes each bitmap.
func FuzzUpdate(f *testing.F) {
	f.Add([]byte{1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 24, 0, 1, 4, 4, 0, 0x81, 255, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 2, 0, 0, 0, 1, 2, 3, 4, 5, 6})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Palette
		ParsePalette(b, &p)
		ds, err := ParseUpdate(b, nil)
		if err != nil {
			return
		}
		var buf []byte
		for i := range ds {
			if ds[i].Width*ds[i].Height > 1<<16 {
				continue
			}
			buf, _ = Decode(&ds[i], &p, buf)
		}
	})
}
