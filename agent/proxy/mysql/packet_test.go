package mysql

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// rawPackets frames payload as the protocol does, for the tests.
func rawPackets(seq byte, payload []byte) []byte {
	var b bytes.Buffer
	w := newPacketWriter(bufio.NewWriter(&b))
	if _, err := w.write(seq, payload); err != nil {
		panic(err)
	}
	w.flush()
	return b.Bytes()
}

func TestPacketRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 250, 4096, maxPacketChunk - 1, maxPacketChunk, maxPacketChunk + 1, 2*maxPacketChunk + 7}
	for _, n := range sizes {
		t.Run("", func(t *testing.T) {
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = byte(i * 7)
			}
			raw := rawPackets(5, payload)
			wantPackets := n/maxPacketChunk + 1
			if len(raw) != n+4*wantPackets {
				t.Fatalf("size %d: %d framed bytes, want %d", n, len(raw), n+4*wantPackets)
			}
			r := newPacketReader(bufio.NewReader(bytes.NewReader(raw)), 64<<20)
			got, seq, err := r.next()
			if err != nil {
				t.Fatalf("size %d: %v", n, err)
			}
			if seq != 5 || r.last != byte(5+wantPackets-1) {
				t.Errorf("size %d: seq %d last %d, want 5 and %d", n, seq, r.last, 5+wantPackets-1)
			}
			if !bytes.Equal(got, payload) {
				t.Errorf("size %d: payload differs", n)
			}
			// Relaying re-frames to the same bytes.
			if again := rawPackets(seq, got); !bytes.Equal(again, raw) {
				t.Errorf("size %d: re-framed bytes differ", n)
			}
			if _, _, err := r.next(); !errors.Is(err, io.EOF) {
				t.Errorf("size %d: after the packet: %v, want io.EOF", n, err)
			}
		})
	}
}

func TestPacketReaderErrors(t *testing.T) {
	big := rawPackets(0, make([]byte, maxPacketChunk+10))
	badSeq := append([]byte(nil), big...)
	badSeq[4+maxPacketChunk+3] = 9 // continuation sequence id
	cases := []struct {
		name string
		raw  []byte
		max  int
		want error
	}{
		{"truncated header", []byte{5, 0}, 0, io.ErrUnexpectedEOF},
		{"truncated payload", []byte{5, 0, 0, 0, 'a', 'b'}, 0, io.ErrUnexpectedEOF},
		{"announced 16 MiB, sent 3 bytes", []byte{0xff, 0xff, 0xff, 0, 1, 2, 3}, 0, io.ErrUnexpectedEOF},
		{"over the cap", rawPackets(0, make([]byte, 2000)), 1000, ErrPayloadTooLarge},
		{"joined payload over the cap", big, maxPacketChunk + 5, ErrPayloadTooLarge},
		{"missing continuation", big[:4+maxPacketChunk], 0, io.ErrUnexpectedEOF},
		{"continuation out of sequence", badSeq, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newPacketReader(bufio.NewReader(bytes.NewReader(c.raw)), c.max)
			_, _, err := r.next()
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
}

func TestPacketReaderReusesBuffer(t *testing.T) {
	var raw []byte
	for range 100 {
		raw = append(raw, rawPackets(0, bytes.Repeat([]byte("x"), 300))...)
	}
	r := newPacketReader(bufio.NewReader(bytes.NewReader(raw)), 0)
	allocs := testing.AllocsPerRun(50, func() {
		if _, _, err := r.next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per packet, want 0", allocs)
	}
}

// FuzzPacketReader feeds arbitrary bytes to the reader: it must return
// payloads within the cap or an error, never panic, and a payload it
// returns must re-frame to the bytes it came from.
func FuzzPacketReader(f *testing.F) {
	f.Add(rawPackets(0, []byte("\x03select 1")))
	f.Add(append(rawPackets(0, []byte{}), rawPackets(1, []byte("\x0e"))...))
	f.Add([]byte{0xff, 0xff, 0xff, 0, 'a'})
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 20
		r := newPacketReader(bufio.NewReaderSize(bytes.NewReader(data), 16), limit)
		consumed := 0
		for {
			p, seq, err := r.next()
			if err != nil {
				return
			}
			if len(p) > limit {
				t.Fatalf("payload of %d bytes over the cap %d", len(p), limit)
			}
			raw := rawPackets(seq, p)
			if consumed+len(raw) > len(data) || !bytes.Equal(raw, data[consumed:consumed+len(raw)]) {
				t.Fatalf("payload does not re-frame to its input bytes")
			}
			consumed += len(raw)
		}
	})
}

// TestRowsSpan: the run of whole row packets at the start of a buffer
// ends before a row stream's end (ERR, EOF, OK-as-EOF), an empty or split
// packet, and a packet not all in the buffer.
func TestRowsSpan(t *testing.T) {
	row := func(seq byte, s string) []byte { return rawPackets(seq, append([]byte{byte(len(s))}, s...)) }
	rows := bytes.Join([][]byte{row(3, "a"), row(4, "bc"), row(5, "def")}, nil)
	eof := rawPackets(6, []byte{hdrEOF, 0, 0, 2, 0})
	okEOF := rawPackets(6, []byte{hdrEOF, 0, 0, 2, 0, 0, 0, 0, 0, 0})
	bigRow := rawPackets(6, append([]byte{0xfe, 10, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 10)...)) // 0xfe: an 8-byte length, not an EOF
	tests := []struct {
		name     string
		buf      []byte
		caps     uint32
		n        int
		wantRows int64
	}{
		{"empty", nil, 0, 0, 0},
		{"rows then EOF", append(rows, eof...), 0, len(rows), 3},
		{"rows then ERR", append(rows, rawPackets(6, []byte{hdrErr, 1, 2})...), 0, len(rows), 3},
		{"OK as EOF", append(rows, okEOF...), capDeprecateEOF, len(rows), 3},
		{"0xfe row without DEPRECATE_EOF", append(bigRow, eof...), 0, len(bigRow), 1},
		{"0xfe packet of 9+ bytes with DEPRECATE_EOF ends", append(bigRow, eof...), capDeprecateEOF, 0, 0},
		{"cut in the body", rows[:len(rows)-1], 0, len(rows) - 4 - 4, 2},
		{"cut in the header", append(rows, 9, 0), 0, len(rows), 3},
		{"header only", append(rows, rawPackets(6, []byte{})...), 0, len(rows), 3},
		{"split packet", append(append([]byte{}, rows...), 0xff, 0xff, 0xff, 6, 1), 0, len(rows), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, rows := rowsSpan(tt.buf, tt.caps)
			if n != tt.n || rows != tt.wantRows {
				t.Fatalf("rowsSpan = %d bytes, %d rows; want %d, %d", n, rows, tt.n, tt.wantRows)
			}
		})
	}
}
