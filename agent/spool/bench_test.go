package spool

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// BenchmarkWriterThroughput: 16 KiB writes into a spooled recording
// (growing frames, snapshots every FlushInterval, fsyncs), zeros and
// random text, random bytes.
func BenchmarkWriterThroughput(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	text := make([]byte, 16<<10)
	for i := range text {
		text[i] = "abcdefghij klmnop\n"[rng.IntN(18)]
	}
	random := make([]byte, 16<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{{"zeros", make([]byte, 16<<10)}, {"text", text}, {"random", random}} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := testConfig(b.TempDir())
			cfg.FlushInterval = 500 * time.Millisecond
			s, err := Open(cfg)
			if err != nil {
				b.Fatal(err)
			}
			w, err := s.Create("bench", api.FormatAsciicast)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				if _, err := w.Write(tc.data); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := w.Finalize(false); err != nil {
				b.Fatal(err)
			}
		})
	}
}
