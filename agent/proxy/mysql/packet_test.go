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
