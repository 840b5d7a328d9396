package har

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"testing"
)

// BenchmarkEncode encodes the entries of testdata/session.jsonl (redaction
// included), one per iteration in turn: the recording's cost per request.
// On a loaded machine compare the CPU time of a fixed -benchtime Nx run.
func BenchmarkEncode(b *testing.B) {
	f, err := os.Open("testdata/session.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, MaxLineSize)
	sc.Scan() // the header
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	enc, err := NewEncoder(io.Discard, Header{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	entries := make([]*Entry, len(lines))
	for i := range entries {
		entries[i] = new(Entry)
		if err := json.Unmarshal(lines[i], entries[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// Entries are redacted in place: from the second round on the
		// redactor finds its own marks (the same work).
		if err := enc.Encode(entries[i%len(entries)]); err != nil {
			b.Fatal(err)
		}
	}
}
