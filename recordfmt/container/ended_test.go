package container

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestEnded(t *testing.T) {
	ws := []write{{0, []byte("hello\r\n")}, {time.Second, []byte("world\r\n")}, {2 * time.Second, bytes.Repeat([]byte("x"), 3000)}}
	finished := build(t, ws, time.Second, 1024, true).bytes()
	cut := build(t, ws, time.Second, 1024, false).bytes()
	tests := []struct {
		name    string
		data    []byte
		want    bool
		wantErr error
	}{
		{"finished with a trailer", finished, true, nil},
		{"closed without a trailer", cut, false, nil},
		{"trailer's last byte missing", finished[:len(finished)-1], false, nil},
		{"a byte appended after the footer", append(append([]byte(nil), finished...), 0), false, nil},
		{"file header only", cut[:fileHeaderLenOf(t, cut)], false, nil},
		{"not a container", []byte("this is not a recording container at all, just text"), false, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &readAtLog{data: tt.data}
			got, err := Ended(log, int64(len(tt.data)))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Ended = %v, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Ended = %v, %v; want %v", got, err, tt.want)
			}
			// Only the file header, the footer and the trailer are read.
			var read int64
			for _, s := range log.reads {
				read += s.n
			}
			if read > 2048 {
				t.Errorf("read %d bytes of a %d byte container", read, len(tt.data))
			}
		})
	}
}

func fileHeaderLenOf(t *testing.T, b []byte) int {
	t.Helper()
	h, err := readFileHeader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return h.size
}
