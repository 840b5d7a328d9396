package querylog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Errors returned by the Decoder (wrapped with the line number).
var (
	// ErrMalformed: a line is not a JSON object of the expected shape.
	ErrMalformed = errors.New("malformed query log line")
	// ErrTruncated: the input ends inside a line (a cut recording).
	ErrTruncated = errors.New("query log ends inside a line")
	// ErrLineTooLong: a line is longer than MaxLineSize.
	ErrLineTooLong = errors.New("query log line too long")
)

// Decoder reads entries from JSON lines. Blank lines are skipped. After
// an ErrMalformed or ErrLineTooLong error Next may be called again: it goes
// on with the next line.
type Decoder struct {
	r    *bufio.Reader
	line int
	buf  []byte
}

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next entry, or io.EOF at the end of the input. Numbers
// in params decode as json.Number (exact, also for 64-bit integers).
func (d *Decoder) Next() (Entry, error) {
	for {
		line, complete, err := d.readLine()
		if err != nil {
			return Entry{}, err
		}
		d.line++
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if !complete {
				return Entry{}, io.EOF
			}
			continue
		}
		if !complete {
			return Entry{}, fmt.Errorf("line %d: %w", d.line, ErrTruncated)
		}
		return d.parse(line)
	}
}

// readLine reads one line without its "\n". complete is false when the
// input ended before a newline. Over-long lines are consumed and reported.
func (d *Decoder) readLine() (line []byte, complete bool, err error) {
	d.buf = d.buf[:0]
	tooLong := false
	for {
		chunk, err := d.r.ReadSlice('\n')
		if !tooLong {
			if len(d.buf)+len(chunk) > MaxLineSize+1 {
				tooLong = true
				d.buf = d.buf[:0]
			} else {
				d.buf = append(d.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				d.line++
				return nil, false, fmt.Errorf("line %d: %w", d.line, ErrLineTooLong)
			}
			return d.buf[:len(d.buf)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if tooLong {
				d.line++
				return nil, false, fmt.Errorf("line %d: %w", d.line, ErrLineTooLong)
			}
			if len(d.buf) == 0 {
				return nil, false, io.EOF
			}
			return d.buf, false, nil
		default:
			return nil, false, fmt.Errorf("querylog: read: %w", err)
		}
	}
}

func (d *Decoder) parse(line []byte) (Entry, error) {
	if line[0] != '{' {
		return Entry{}, fmt.Errorf("line %d: %w: not a JSON object", d.line, ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var e Entry
	if err := dec.Decode(&e); err != nil {
		return Entry{}, fmt.Errorf("line %d: %w: %v", d.line, ErrMalformed, err)
	}
	if dec.More() {
		return Entry{}, fmt.Errorf("line %d: %w: data after the object", d.line, ErrMalformed)
	}
	if e.Kind == "" {
		return Entry{}, fmt.Errorf("line %d: %w: no kind", d.line, ErrMalformed)
	}
	return e, nil
}
