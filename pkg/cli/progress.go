package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/cli/output"
)

// progressWriter counts bytes written through it and draws a one-line
// progress bar on a terminal (stderr), at most ten times a second. It
// draws nothing until Min bytes went through, so small files print no
// bar at all.
type progressWriter struct {
	w     io.Writer
	bar   io.Writer // stderr, only when it is a terminal
	total int64     // expected bytes, <= 0 unknown
	label string
	min   int64
	now   func() time.Time

	n     int64
	last  time.Time
	drawn bool
}

func newProgressWriter(w, bar io.Writer, total int64, label string) *progressWriter {
	return &progressWriter{w: w, bar: bar, total: total, label: label, min: 1 << 20, now: time.Now}
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	if p.bar != nil && p.n >= p.min {
		if t := p.now(); t.Sub(p.last) >= 100*time.Millisecond {
			p.last = t
			p.draw()
		}
	}
	return n, err
}

func (p *progressWriter) draw() {
	const width = 30
	line := fmt.Sprintf("%s %s", p.label, output.Bytes(p.n))
	if p.total > 0 {
		frac := min(float64(p.n)/float64(p.total), 1)
		fill := int(frac * width)
		line = fmt.Sprintf("%s [%s%s] %3.0f%% %s", p.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), frac*100, output.Bytes(p.n))
	}
	fmt.Fprintf(p.bar, "\r%s\x1b[K", line)
	p.drawn = true
}

// Done draws the final state and ends the bar's line.
func (p *progressWriter) Done() {
	if p.drawn {
		p.draw()
		fmt.Fprintln(p.bar)
	}
}
