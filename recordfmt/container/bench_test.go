package container

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuClock measures the process's CPU time (user+system, all threads), so
// that benchmarks on a shared, overloaded machine can report throughput
// per CPU-second next to the wall-clock figures.
type cpuClock struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{cpuNow()} }

// report adds "MB/cpu-s" for bytes per op and "cpu-µs/op".
func (c cpuClock) report(b *testing.B, bytesPerOp int64) {
	used := cpuNow() - c.start
	if b.N == 0 || used <= 0 {
		return
	}
	if bytesPerOp > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/used.Seconds()/1e6, "MB/cpu-s")
	}
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/op")
}

var (
	termOnce   sync.Once
	termWrites []write
	termBytes  []byte
)

// terminal returns an 8 MiB realistic terminal stream (see terminalStream).
func terminal() ([]write, []byte) {
	termOnce.Do(func() {
		termWrites = terminalStream(42, 8<<20)
		termBytes = joinWrites(termWrites)
	})
	return termWrites, termBytes
}

// countWriter counts bytes written and keeps nothing.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkWrite measures the writer on 4 KiB writes (10 ms of session
// time apart, a Flush every 64 writes): one op is one Write.
func BenchmarkWrite(b *testing.B) {
	_, term := terminal()
	for _, tc := range []struct {
		name string
		src  []byte
	}{{"terminal", term}, {"zeros", make([]byte, len(term))}} {
		b.Run(tc.name, func(b *testing.B) {
			const chunk = 4096
			cw := &countWriter{}
			w, err := NewWriter(cw, testHeader(), Config{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(chunk)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			off := 0
			for i := 0; b.Loop(); i++ {
				if off+chunk > len(tc.src) {
					off = 0
				}
				if _, err := w.Write(time.Duration(i)*10*time.Millisecond, tc.src[off:off+chunk]); err != nil {
					b.Fatal(err)
				}
				off += chunk
				if i%64 == 63 {
					w.Flush()
				}
			}
			w.Close()
			cpu.report(b, chunk)
			b.ReportMetric(float64(w.Stats().RawSize)/float64(cw.n), "ratio")
		})
	}
}

// BenchmarkCompressionRatio records the realistic terminal stream as the
// agent does (each write at its session time, a Flush every second of
// session time, or only at the frame size) and reports stored bytes per
// raw byte as "ratio" (raw/stored).
func BenchmarkCompressionRatio(b *testing.B) {
	ws, term := terminal()
	for _, tc := range []struct {
		name  string
		flush time.Duration
	}{{"flush-1s", time.Second}, {"frame-size-only", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(term)))
			b.ReportAllocs()
			var stored int64
			var frames int
			cpu := startCPU()
			for b.Loop() {
				cw := &countWriter{}
				w, _ := NewWriter(cw, testHeader(), Config{})
				period := time.Duration(-1)
				for _, wr := range ws {
					if tc.flush > 0 && wr.at/tc.flush != period {
						w.Flush()
						period = wr.at / tc.flush
					}
					w.Write(wr.at, wr.data)
				}
				_, priv := testKey()
				w.Finish(priv)
				stored, frames = cw.n, w.Stats().Frames
			}
			cpu.report(b, int64(len(term)))
			b.ReportMetric(float64(len(term))/float64(stored), "ratio")
			b.ReportMetric(float64(ws[len(ws)-1].at)/float64(time.Minute), "session-minutes")
			b.ReportMetric(float64(frames), "frames")
			b.ReportMetric(float64(len(term))/float64(frames), "raw-B/frame")
		})
	}
}

// BenchmarkSeekHour opens a one-hour recording, seeks to a random time and
// decodes that frame; it reports the median and p99 of one such jump.
func BenchmarkSeekHour(b *testing.B) {
	finished, cut := hourRecordings(b)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"index", finished}, {"no-trailer-scan", cut}} {
		b.Run(tc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			var lat []time.Duration
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				at := time.Duration(rng.Int64N(int64(time.Hour)))
				start := time.Now()
				rd, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rd.ReadFrame(rd.SeekTime(at)); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			cpu.report(b, 0)
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "median-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkVerify verifies whole recordings; MB/s is of container bytes.
func BenchmarkVerify(b *testing.B) {
	finished, _ := hourRecordings(b)
	ws, _ := terminal()
	term := build(b, ws, time.Second, 0, true).bytes()
	for _, tc := range []struct {
		name string
		data []byte
	}{{"hour-synthetic", finished}, {"terminal-8MiB-raw", term}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.data)))
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				rep, err := Verify(bytes.NewReader(tc.data), int64(len(tc.data)), mustPub())
				if err != nil || rep.Status != StatusOK {
					b.Fatalf("%+v %v", rep, err)
				}
			}
			cpu.report(b, int64(len(tc.data)))
		})
	}
}

// BenchmarkReadAll decodes a whole recording; MB/s is of inner bytes.
func BenchmarkReadAll(b *testing.B) {
	ws, term := terminal()
	data := build(b, ws, time.Second, 0, true).bytes()
	b.SetBytes(int64(len(term)))
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		rd, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rd.StreamFrom(0)); err != nil || n != int64(len(term)) {
			b.Fatal(n, err)
		}
	}
	cpu.report(b, int64(len(term)))
}

// BenchmarkCompressionGrowing records the realistic terminal stream as the
// agent's spool does: one growing open frame, closed at the frame size,
// and its snapshot sent to control every upload period of session time
// while data flows. "ratio" is raw bytes per stored byte (the container as
// control keeps it); "upload-ratio" raw bytes per byte uploaded (closed
// frames once, plus every snapshot of the open frame).
func BenchmarkCompressionGrowing(b *testing.B) {
	ws, term := terminal()
	for _, tc := range []struct {
		frame  int
		upload time.Duration
	}{{64 << 10, 500 * time.Millisecond}, {64 << 10, 2 * time.Second}, {64 << 10, 5 * time.Second}, {256 << 10, 5 * time.Second}} {
		b.Run(fmt.Sprintf("frame-%dKiB-upload-%s", tc.frame>>10, tc.upload), func(b *testing.B) {
			b.SetBytes(int64(len(term)))
			var stored, uploaded int64
			var frames int
			cpu := startCPU()
			for b.Loop() {
				cw := &countWriter{}
				w, _ := NewWriter(cw, testHeader(), Config{FrameSize: tc.frame})
				uploaded = 0
				period := time.Duration(-1)
				var closedBefore int64
				for _, wr := range ws {
					if p := wr.at / tc.upload; p != period {
						period = p
						_, snap, _ := w.Snapshot(nil)
						uploaded += cw.n - closedBefore + int64(len(snap))
						closedBefore = cw.n
					}
					w.Write(wr.at, wr.data)
				}
				_, priv := testKey()
				w.Finish(priv)
				uploaded += cw.n - closedBefore
				stored, frames = cw.n, w.Stats().Frames
			}
			cpu.report(b, int64(len(term)))
			b.ReportMetric(float64(len(term))/float64(stored), "ratio")
			b.ReportMetric(float64(len(term))/float64(uploaded), "upload-ratio")
			b.ReportMetric(float64(frames), "frames")
		})
	}
}
