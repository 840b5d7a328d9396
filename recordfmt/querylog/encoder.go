package querylog

import (
	"fmt"
	"io"
	"math"
	"sync"
)

// Encoder writes entries as JSON lines. It is safe for concurrent use: each
// Encode issues exactly one Write holding one whole line.
type Encoder struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w}
}

// Encode writes one entry. Params are converted with Param, the statement
// and long strings truncated (see the package comment). Non-finite times
// and durations are written as 0.
func (e *Encoder) Encode(ent Entry) error {
	ent = normalize(ent)
	if math.IsNaN(ent.T) || math.IsInf(ent.T, 0) {
		ent.T = 0
	}
	if math.IsNaN(ent.Duration) || math.IsInf(ent.Duration, 0) {
		ent.Duration = 0
	}
	ent.T = math.Round(ent.T*1e6) / 1e6
	ent.Duration = math.Round(ent.Duration*1e6) / 1e6
	e.mu.Lock()
	defer e.mu.Unlock()
	b, err := appendEntry(e.buf[:0], &ent)
	if err != nil {
		return fmt.Errorf("querylog: encode: %w", err)
	}
	if cap(b) <= 64<<10 {
		e.buf = b // do not keep one huge entry's buffer
	} else {
		e.buf = nil
	}
	if _, err := e.w.Write(b); err != nil {
		return fmt.Errorf("querylog: write: %w", err)
	}
	return nil
}
