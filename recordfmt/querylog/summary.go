package querylog

import (
	"errors"
	"io"
)

// Summary counts a query log for `sessions show`.
type Summary struct {
	// Statements counts entries whose kind runs a statement: query,
	// execute, copy_in, copy_out.
	Statements int64 `json:"statements"`
	// Errors counts entries of any kind that record an error.
	Errors int64 `json:"errors"`
	// Rows sums the known (≥ 0) rows of statement entries.
	Rows int64 `json:"rows"`
}

// Add counts one entry.
func (s *Summary) Add(e Entry) {
	if e.Kind.IsStatement() {
		s.Statements++
		if e.Rows > 0 {
			s.Rows += e.Rows
		}
	}
	if e.Failed() {
		s.Errors++
	}
}

// Summarize reads a whole query log and counts it. Malformed lines are
// skipped; the summary of every good line is returned together with the
// first error met (nil when the log is clean), so a cut or damaged
// recording still gets its counts.
func Summarize(r io.Reader) (Summary, error) {
	var s Summary
	var first error
	d := NewDecoder(r)
	for {
		e, err := d.Next()
		if err == io.EOF {
			return s, first
		}
		if err != nil {
			if first == nil {
				first = err
			}
			if errors.Is(err, ErrMalformed) || errors.Is(err, ErrLineTooLong) {
				continue
			}
			return s, first
		}
		s.Add(e)
	}
}
