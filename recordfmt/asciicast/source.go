package asciicast

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// recordSource yields stored-form records from either format.
type recordSource interface {
	Header() Header
	Next() (Record, error)
}

// openRecords reads the header of r, in the stored form or asciicast v2.
func openRecords(r io.Reader) (recordSource, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if pre, _ := br.Peek(len(Magic)); string(pre) == Magic {
		return NewReader(br)
	}
	d, err := NewDecoder(br)
	if err != nil {
		return nil, err
	}
	return &eventRecords{d: d}, nil
}

// eventRecords adapts an asciicast v2 Decoder to records. Events with
// codes other than o, i, r, m are skipped, as players skip them.
type eventRecords struct {
	d *Decoder
}

func (e *eventRecords) Header() Header { return e.d.Header() }

func (e *eventRecords) Next() (Record, error) {
	for {
		ev, err := e.d.Next()
		if err != nil {
			return Record{}, err
		}
		rec := Record{Time: time.Duration(math.Round(ev.Time*1e6)) * time.Microsecond}
		switch ev.Code {
		case "o":
			rec.Type, rec.Data = TypeOutput, []byte(ev.Data)
		case "i":
			rec.Type, rec.Data = TypeInput, []byte(ev.Data)
		case "m":
			rec.Type, rec.Data = TypeMarker, []byte(ev.Data)
		case "r":
			cols, rows, ok := parseSize(ev.Data)
			if !ok {
				return Record{}, fmt.Errorf("%w: line %d: resize %q, want COLSxROWS", ErrMalformed, e.d.line, ev.Data)
			}
			rec.Type, rec.Cols, rec.Rows = TypeResize, cols, rows
		default:
			continue
		}
		return rec, nil
	}
}

// parseSize parses "COLSxROWS".
func parseSize(s string) (cols, rows int, ok bool) {
	c, r, found := strings.Cut(s, "x")
	if !found {
		return 0, 0, false
	}
	cols, err1 := strconv.Atoi(c)
	rows, err2 := strconv.Atoi(r)
	if err1 != nil || err2 != nil || cols < 0 || rows < 0 || cols > math.MaxInt32 || rows > math.MaxInt32 {
		return 0, 0, false
	}
	return cols, rows, true
}
