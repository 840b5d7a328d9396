package tunnel

import (
	"encoding/binary"
	"net"
	"testing"
)

// recordingConn records each Write it gets.
type recordingConn struct {
	net.Conn
	writes [][]byte
}

func (r *recordingConn) Write(p []byte) (int, error) {
	r.writes = append(r.writes, append([]byte(nil), p...))
	return len(p), nil
}

func header(typ byte, length uint32) []byte {
	h := make([]byte, yamuxHeaderSize)
	h[1] = typ
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

func TestCoalescingConn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes [][]byte
		want   []int // sizes of the underlying writes
	}{
		{"small data frame joined", [][]byte{header(0, 5), []byte("hello")}, []int{17}},
		{"two frames", [][]byte{header(0, 1), []byte("a"), header(0, 2), []byte("bc")}, []int{13, 14}},
		{"window update alone", [][]byte{header(1, 0)}, []int{12}},
		{"data frame without body (flags only)", [][]byte{header(0, 0)}, []int{12}},
		{"large body not copied", [][]byte{header(0, coalesceMax+1), make([]byte, coalesceMax+1)}, []int{12, coalesceMax + 1}},
		{"ping then data", [][]byte{header(2, 7), header(0, 3), []byte("xyz")}, []int{12, 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recordingConn{}
			c := &coalescingConn{Conn: rc}
			for _, w := range tc.writes {
				if n, err := c.Write(w); err != nil || n != len(w) {
					t.Fatalf("Write(%d bytes) = %d, %v", len(w), n, err)
				}
			}
			if len(rc.writes) != len(tc.want) {
				t.Fatalf("%d underlying writes, want %d", len(rc.writes), len(tc.want))
			}
			var all []byte
			for i, w := range rc.writes {
				if len(w) != tc.want[i] {
					t.Fatalf("write %d has %d bytes, want %d", i, len(w), tc.want[i])
				}
				all = append(all, w...)
			}
			var sent []byte
			for _, w := range tc.writes {
				sent = append(sent, w...)
			}
			if string(all) != string(sent) {
				t.Fatal("bytes changed")
			}
		})
	}
}
