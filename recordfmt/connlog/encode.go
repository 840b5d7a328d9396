package connlog

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Encoder writes events as JSON lines. It is safe for concurrent use: each
// event is written with exactly one Write call, so lines never interleave.
type Encoder struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode validates e and writes it as one line.
func (enc *Encoder) Encode(e Event) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("connlog: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("connlog: encode event: %w", err)
	}
	if len(b)+1 > MaxLineSize {
		return fmt.Errorf("connlog: event of %d bytes exceeds the %d byte line limit", len(b)+1, MaxLineSize)
	}
	enc.mu.Lock()
	defer enc.mu.Unlock()
	enc.buf = append(append(enc.buf[:0], b...), '\n')
	if _, err := enc.w.Write(enc.buf); err != nil {
		return fmt.Errorf("connlog: write event: %w", err)
	}
	return nil
}
