package connlog

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// sample is a session with two connections and a failed dial.
var sample = []Event{
	{T: 0.001, Event: EventOpen, Conn: 1, Peer: "10.0.0.7:51000", Target: "127.0.0.1:5432"},
	{T: 0.25, Event: EventOpen, Conn: 2, Peer: "10.0.0.7:51001", Target: "127.0.0.1:5432"},
	{T: 1.5, Event: EventClose, Conn: 1, Peer: "10.0.0.7:51000", Target: "127.0.0.1:5432", BytesUp: 120, BytesDown: 4096, Duration: 1.499},
	{T: 2, Event: EventError, Conn: 3, Peer: "10.0.0.7:51002", Target: "127.0.0.1:5432", Error: "dial tcp 127.0.0.1:5432: connect: connection refused"},
	{T: 3.75, Event: EventClose, Conn: 2, Peer: "10.0.0.7:51001", Target: "127.0.0.1:5432", BytesUp: 8388608, BytesDown: 8388608, Duration: 3.5},
}

func encodeAll(t *testing.T, evs []Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for _, e := range evs {
		if err := enc.Encode(e); err != nil {
			t.Fatalf("Encode(%+v): %v", e, err)
		}
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	b := encodeAll(t, sample)
	if n := bytes.Count(b, []byte("\n")); n != len(sample) {
		t.Fatalf("got %d lines, want %d", n, len(sample))
	}
	got, err := ReadAll(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sample) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, sample)
	}
}

func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "session.jsonl")
	b := encodeAll(t, sample)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding differs from %s (run go test -update if intended):\n got %s\nwant %s", path, b, want)
	}
	got, err := ReadAll(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sample) {
		t.Fatalf("decoding %s:\n got %+v\nwant %+v", path, got, sample)
	}
}

func TestDecodeErrors(t *testing.T) {
	long := `{"t":0,"event":"open","conn":1,"peer":"` + strings.Repeat("x", MaxLineSize) + `"}`
	tests := []struct {
		name, in string
		line     string // expected "line N" in the message
		want     string
	}{
		{"not json", `{"t":0,"event":"open","conn":1}` + "\nhello\n", "line 2", "invalid character"},
		{"unknown event", `{"t":0,"event":"reset","conn":1}`, "line 1", `unknown event "reset"`},
		{"negative time", `{"t":-1,"event":"open","conn":1}`, "line 1", "bad time offset"},
		{"conn zero", `{"t":0,"event":"open","conn":0}`, "line 1", "bad connection number"},
		{"negative bytes", `{"t":0,"event":"close","conn":1,"bytes_up":-5}`, "line 1", "negative byte count"},
		{"wrong type", `{"t":"soon","event":"open","conn":1}`, "line 1", "cannot unmarshal"},
		{"array", `[1,2]`, "line 1", "cannot unmarshal"},
		{"too long", "\n\n" + long + "\n", "line 3", "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadAll(strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			for _, s := range []string{tt.line, tt.want} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestDecodeSkipsBlankLinesAndUnknownFields(t *testing.T) {
	in := "\n" + `{"t":1,"event":"open","conn":4,"future":{"x":1}}` + "\r\n\n"
	d := NewDecoder(strings.NewReader(in))
	e, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	if e.Conn != 4 || e.Event != EventOpen || d.Line() != 2 {
		t.Fatalf("got %+v at line %d", e, d.Line())
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("want io.EOF, got %v", err)
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("second call after the end: want io.EOF, got %v", err)
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	tests := []struct {
		name string
		e    Event
	}{
		{"no event", Event{Conn: 1}},
		{"no conn", Event{Event: EventOpen}},
		{"too long", Event{Event: EventError, Conn: 1, Error: strings.Repeat("e", MaxLineSize)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := enc.Encode(tt.e); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if buf.Len() != 0 {
		t.Fatalf("invalid events wrote %q", buf.String())
	}
}

func TestSummarize(t *testing.T) {
	s, err := Summarize(bytes.NewReader(encodeAll(t, sample)))
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Connections: 2, Closed: 2, Errors: 1, BytesUp: 120 + 8388608, BytesDown: 4096 + 8388608, Duration: 3.75}
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
	s, err = Summarize(strings.NewReader(`{"t":0,"event":"open","conn":1}` + "\nbroken\n"))
	if err == nil || s.Connections != 1 {
		t.Fatalf("got %+v, %v; want the first connection and an error", s, err)
	}
}
