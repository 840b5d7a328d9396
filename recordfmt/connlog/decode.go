package connlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxLineSize is the longest line (including its newline) a Decoder accepts
// and an Encoder writes.
const MaxLineSize = 64 << 10

// ErrMalformed is wrapped by every error caused by bad input.
var ErrMalformed = errors.New("malformed connection log")

// Decoder reads events from JSON lines.
type Decoder struct {
	sc   *bufio.Scanner
	line int
	err  error
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineSize)
	return &Decoder{sc: sc}
}

// Next returns the next event, io.EOF after the last one, or an error
// wrapping ErrMalformed that names the offending line. Empty lines are
// skipped. After an error every further call returns the same error.
func (d *Decoder) Next() (Event, error) {
	if d.err != nil {
		return Event{}, d.err
	}
	for {
		if !d.sc.Scan() {
			err := d.sc.Err()
			switch {
			case err == nil:
				d.err = io.EOF
			case errors.Is(err, bufio.ErrTooLong):
				d.err = fmt.Errorf("%w: line %d: longer than %d bytes", ErrMalformed, d.line+1, MaxLineSize)
			default:
				d.err = fmt.Errorf("connlog: read line %d: %w", d.line+1, err)
			}
			return Event{}, d.err
		}
		d.line++
		b := bytes.TrimSpace(d.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			d.err = fmt.Errorf("%w: line %d: %v", ErrMalformed, d.line, err)
			return Event{}, d.err
		}
		if err := e.Validate(); err != nil {
			d.err = fmt.Errorf("%w: line %d: %v", ErrMalformed, d.line, err)
			return Event{}, d.err
		}
		return e, nil
	}
}

// Line returns the number of the last line read (1-based).
func (d *Decoder) Line() int { return d.line }

// ReadAll decodes every event of r.
func ReadAll(r io.Reader) ([]Event, error) {
	d := NewDecoder(r)
	var out []Event
	for {
		e, err := d.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}
