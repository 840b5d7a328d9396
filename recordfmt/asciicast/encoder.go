package asciicast

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
)

// Event is one asciicast v2 event line.
type Event struct {
	Time float64 // seconds since the start
	Code string  // "o" output, "i" input, "r" resize ("COLSxROWS"), "m" marker
	Data string
}

// Encoder writes asciicast v2: the header line, then one line per event, in
// the exact form described in the package comment. It buffers; call Flush at
// the end.
type Encoder struct {
	bw   *bufio.Writer
	buf  []byte
	last int64 // time of the previous event, microseconds
	err  error
}

// NewEncoder writes the header line for h to w and returns an Encoder for
// the events that follow.
func NewEncoder(w io.Writer, h Header) (*Encoder, error) {
	e := &Encoder{bw: bufio.NewWriterSize(w, 64<<10)}
	e.buf = appendHeaderLine(e.buf[:0], h)
	if _, err := e.bw.Write(e.buf); err != nil {
		return nil, fmt.Errorf("asciicast: write header: %w", err)
	}
	return e, nil
}

// Encode writes one event. Times are rounded to microseconds; a time earlier
// than the previous event's (or negative, or NaN) is clamped to it. Data
// that is not valid UTF-8 is repaired (U+FFFD). Code must be non-empty.
func (e *Encoder) Encode(ev Event) error {
	if ev.Code == "" {
		return fmt.Errorf("asciicast: event at %v without a code", ev.Time)
	}
	us := int64(0)
	switch t := math.Round(ev.Time * 1e6); {
	case t > float64(maxMicros):
		us = maxMicros
	case t > 0:
		us = int64(t)
	}
	return e.write(us, validString(ev.Code), validString(ev.Data))
}

// Flush writes buffered lines to the underlying writer.
func (e *Encoder) Flush() error {
	if e.err != nil {
		return e.err
	}
	if err := e.bw.Flush(); err != nil {
		e.err = fmt.Errorf("asciicast: flush: %w", err)
	}
	return e.err
}

// write writes one event line; code and data are valid UTF-8.
func (e *Encoder) write(us int64, code string, data string) error {
	return e.writeBytes(us, code, []byte(data))
}

func (e *Encoder) writeBytes(us int64, code string, data []byte) error {
	if e.err != nil {
		return e.err
	}
	if us < e.last {
		us = e.last
	}
	e.last = us
	b := append(e.buf[:0], '[')
	b = appendTime(b, us)
	b = append(b, ", "...)
	b = appendJSONString(b, code)
	b = append(b, ", "...)
	b = appendJSONString(b, data)
	b = append(b, "]\n"...)
	e.buf = b
	if _, err := e.bw.Write(b); err != nil {
		e.err = fmt.Errorf("asciicast: write event: %w", err)
	}
	return e.err
}

// appendTime appends us microseconds as seconds with exactly 6 decimals.
func appendTime(b []byte, us int64) []byte {
	b = strconv.AppendInt(b, us/1e6, 10)
	frac := us % 1e6
	b = append(b, '.')
	for d := int64(1e5); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

// appendHeaderLine appends the asciicast v2 header line for h, written the
// way asciinema writes it (", " and ": " separators, keys in a fixed order).
func appendHeaderLine(b []byte, h Header) []byte {
	b = append(b, `{"version": 2, "width": `...)
	b = strconv.AppendInt(b, int64(h.Width), 10)
	b = append(b, `, "height": `...)
	b = strconv.AppendInt(b, int64(h.Height), 10)
	if h.Timestamp != 0 {
		b = append(b, `, "timestamp": `...)
		b = strconv.AppendInt(b, h.Timestamp, 10)
	}
	if h.Command != "" {
		b = append(b, `, "command": `...)
		b = appendJSONString(b, validString(h.Command))
	}
	if h.Title != "" {
		b = append(b, `, "title": `...)
		b = appendJSONString(b, validString(h.Title))
	}
	if len(h.Env) > 0 {
		keys := make([]string, 0, len(h.Env))
		for k := range h.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, `, "env": {`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendJSONString(b, validString(k))
			b = append(b, ": "...)
			b = appendJSONString(b, validString(h.Env[k]))
		}
		b = append(b, '}')
	}
	fields := [...]struct{ k, v string }{
		{"session_id", h.SessionID}, {"user", h.User}, {"resource", h.Resource},
		{"login", h.Login},
	}
	n := 0
	for _, f := range fields {
		if f.v == "" {
			continue
		}
		if n == 0 {
			b = append(b, `, "onepam": {`...)
		} else {
			b = append(b, ", "...)
		}
		n++
		b = appendJSONString(b, f.k)
		b = append(b, ": "...)
		b = appendJSONString(b, validString(f.v))
	}
	if n > 0 {
		b = append(b, '}')
	}
	return append(b, "}\n"...)
}
