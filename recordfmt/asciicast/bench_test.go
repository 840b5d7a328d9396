package asciicast

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkRecorderOutput measures the Recorder on the byte-copying path:
// 32 KiB reads of output, as an SSH proxy passes them.
func BenchmarkRecorderOutput(b *testing.B) {
	p := bytes.Repeat([]byte("x"), 32<<10)
	r, err := NewRecorder(io.Discard, testHeader)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	at := time.Duration(0)
	for b.Loop() {
		at += 50 * time.Microsecond
		if err := r.Output(at, p); err != nil {
			b.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecorderKeystroke measures one echoed keystroke (an input and an
// output event of one byte each).
func BenchmarkRecorderKeystroke(b *testing.B) {
	r, _ := NewRecorder(io.Discard, testHeader)
	k := []byte("k")
	b.ReportAllocs()
	at := time.Duration(0)
	for b.Loop() {
		at += 120 * time.Millisecond
		r.Input(at, k)
		r.Output(at+time.Millisecond, k)
	}
	r.Close()
}

// workload is a recording and how many bytes of terminal output it holds.
type workload struct {
	name   string
	stored []byte
	output int64
}

// zeroWorkload is size bytes of /dev/zero output in 32 KiB reads.
func zeroWorkload(b *testing.B, size int) workload {
	var buf bytes.Buffer
	r, _ := NewRecorder(&buf, testHeader)
	p := make([]byte, 32<<10)
	for i := 0; i < size/len(p); i++ {
		r.Output(time.Duration(i)*10*time.Microsecond, p)
	}
	r.Close()
	return workload{"zero", buf.Bytes(), int64(size)}
}

// textWorkload is a realistic interactive session of about size bytes of
// output: typed commands echoed byte by byte, colored ls listings, log
// lines and a full-screen editor redraw, in reads of varying size.
func textWorkload(b *testing.B, size int) workload {
	rng := rand.New(rand.NewPCG(7, 11))
	var buf bytes.Buffer
	r, _ := NewRecorder(&buf, testHeader)
	at := time.Duration(0)
	var n int64
	emit := func(p string) {
		r.Output(at, []byte(p))
		n += int64(len(p))
	}
	words := []string{"bin", "etc", "var", "log", "nginx", "access.log", "café", "données", "main.go", "README.md", "release-2024", "日本語"}
	colors := []string{"\x1b[01;34m", "\x1b[01;32m", "\x1b[0m", "\x1b[01;36m"}
	prompt := "\x1b]0;alice@web-1: /srv\x07\x1b[01;32malice@web-1\x1b[00m:\x1b[01;34m/srv\x1b[00m$ "
	for n < int64(size) {
		emit(prompt)
		cmd := fmt.Sprintf("ls -la %s\r", words[rng.IntN(len(words))])
		for i := 0; i < len(cmd); i++ { // typing, echoed
			at += time.Duration(80+rng.IntN(200)) * time.Millisecond
			r.Input(at, []byte{cmd[i]})
			at += time.Millisecond
			emit(string(cmd[i]))
		}
		at += 5 * time.Millisecond
		switch rng.IntN(3) {
		case 0: // colored listing
			var l bytes.Buffer
			for i := 0; i < 20+rng.IntN(40); i++ {
				fmt.Fprintf(&l, "-rw-r--r-- 1 alice staff %7d Nov 27 07:%02d %s%s\x1b[0m\r\n", rng.IntN(1<<20), rng.IntN(60), colors[rng.IntN(len(colors))], words[rng.IntN(len(words))])
			}
			emit(l.String())
		case 1: // log lines in 4 KiB reads
			var l bytes.Buffer
			for i := 0; i < 100; i++ {
				fmt.Fprintf(&l, "2024-11-27T07:%02d:%02d.%03dZ INFO request method=GET path=/api/v1/%s status=%d dur=%dms\r\n", rng.IntN(60), rng.IntN(60), rng.IntN(1000), words[rng.IntN(len(words))], 200+rng.IntN(4)*100, rng.IntN(500))
			}
			for s := l.String(); len(s) > 0; {
				k := min(len(s), 4096)
				emit(s[:k])
				s = s[k:]
				at += time.Millisecond
			}
		case 2: // editor redraw
			var l bytes.Buffer
			l.WriteString("\x1b[?1049h\x1b[H\x1b[2J")
			for row := 1; row <= 24; row++ {
				fmt.Fprintf(&l, "\x1b[%d;1H\x1b[38;5;%dm%4d \x1b[0mfunc %s() error { return nil }", row, rng.IntN(256), row, words[rng.IntN(len(words))])
			}
			emit(l.String())
			emit("\x1b[?1049l")
		}
	}
	r.Close()
	return workload{"text", buf.Bytes(), n}
}

// BenchmarkExport measures converting the stored form to asciicast v2, per
// byte of terminal output.
func BenchmarkExport(b *testing.B) {
	for _, w := range []workload{zeroWorkload(b, 16<<20), textWorkload(b, 4<<20)} {
		b.Run(w.name, func(b *testing.B) {
			b.SetBytes(w.output)
			b.ReportAllocs()
			for b.Loop() {
				if err := Export(io.Discard, bytes.NewReader(w.stored)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSize reports stored bytes and asciicast bytes per byte of
// terminal output for 64 MiB of /dev/zero output and a realistic
// interactive session (stored/B and cast/B; uncompressed).
func BenchmarkSize(b *testing.B) {
	for _, mk := range []func() workload{
		func() workload { return zeroWorkload(b, 64<<20) },
		func() workload { return textWorkload(b, 8<<20) },
	} {
		w := mk()
		b.Run(w.name, func(b *testing.B) {
			var cast int64
			for b.Loop() {
				cw := &countWriter{}
				if err := Export(cw, bytes.NewReader(w.stored)); err != nil {
					b.Fatal(err)
				}
				cast = cw.n
			}
			b.ReportMetric(float64(len(w.stored))/float64(w.output), "stored/B")
			b.ReportMetric(float64(cast)/float64(w.output), "cast/B")
			b.ReportMetric(float64(w.output), "output-bytes")
		})
	}
}

// BenchmarkLines measures text extraction for search (output and input
// in one pass, as the search indexer does), per byte of output: a
// realistic terminal stream, NUL bytes (head -c N /dev/zero) and random
// bytes (head -c N /dev/urandom).
func BenchmarkLines(b *testing.B) {
	bulk := func(fill func([]byte)) []byte {
		var buf bytes.Buffer
		r, err := NewRecorder(&buf, Header{Width: 80, Height: 24})
		if err != nil {
			b.Fatal(err)
		}
		p := make([]byte, 32<<10)
		for i := range 128 { // 4 MiB
			fill(p)
			r.Output(time.Duration(i)*time.Millisecond, p)
		}
		r.Close()
		return buf.Bytes()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name   string
		stored []byte
		output int64
	}{
		{"text", textWorkload(b, 4<<20).stored, textWorkload(b, 4<<20).output},
		{"zeros", bulk(func(p []byte) { clear(p) }), 4 << 20},
		{"random", bulk(func(p []byte) {
			for i := range p {
				p[i] = byte(rng.Uint32())
			}
		}), 4 << 20},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(c.output)
			b.ReportAllocs()
			for b.Loop() {
				for _, err := range AllLines(bytes.NewReader(c.stored), true) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
