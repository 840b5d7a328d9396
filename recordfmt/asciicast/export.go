package asciicast

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Export converts a recording in the stored form read from src into
// asciicast v2 written to dst (see the package comment for the exact form).
// When src ends inside an event, Export writes every complete event, the
// repaired tails, and then returns an error wrapping ErrTruncated.
func Export(dst io.Writer, src io.Reader) error {
	rd, err := NewReader(src)
	if err != nil {
		return err
	}
	enc, err := NewEncoder(dst, rd.Header())
	if err != nil {
		return err
	}
	c := converter{rd: rd}
	for {
		us, code, data, err := c.next()
		if err != nil {
			if ferr := enc.Flush(); ferr != nil {
				return ferr
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
		if err := enc.writeBytes(us, code, data); err != nil {
			return err
		}
	}
}

// converter turns stored-form records into asciicast v2 events: UTF-8
// repaired per stream, resizes as "COLSxROWS", empty data events dropped.
type converter struct {
	rd      *Reader
	out, in utf8Stream
	buf     []byte
	us      int64 // time of the latest record
	end     error // the reader's final error, once seen
}

// next returns the next event; data is valid until the following call. At
// the end it returns the tails left in the streams, then the reader's final
// error (io.EOF for a complete recording).
func (c *converter) next() (us int64, code string, data []byte, err error) {
	for c.end == nil {
		rec, err := c.rd.Next()
		if err != nil {
			c.end = err
			break
		}
		c.us = int64(rec.Time / 1000)
		switch rec.Type {
		case TypeOutput:
			c.buf = c.out.append(c.buf[:0], rec.Data)
			code = "o"
		case TypeInput:
			c.buf = c.in.append(c.buf[:0], rec.Data)
			code = "i"
		case TypeResize:
			c.buf = strconv.AppendInt(c.buf[:0], int64(rec.Cols), 10)
			c.buf = append(c.buf, 'x')
			c.buf = strconv.AppendInt(c.buf, int64(rec.Rows), 10)
			code = "r"
		case TypeMarker:
			var u utf8Stream
			c.buf = u.flush(u.append(c.buf[:0], rec.Data))
			code = "m"
		}
		if len(c.buf) > 0 || code == "m" {
			return c.us, code, c.buf, nil
		}
	}
	if c.out.nc > 0 {
		c.buf = c.out.flush(c.buf[:0])
		return c.us, "o", c.buf, nil
	}
	if c.in.nc > 0 {
		c.buf = c.in.flush(c.buf[:0])
		return c.us, "i", c.buf, nil
	}
	if c.end != io.EOF && !errors.Is(c.end, ErrTruncated) && !errors.Is(c.end, ErrMalformed) {
		return 0, "", nil, fmt.Errorf("asciicast: export: %w", c.end)
	}
	return 0, "", nil, c.end
}
