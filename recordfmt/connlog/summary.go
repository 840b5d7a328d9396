package connlog

import (
	"errors"
	"io"
)

// Summary totals a connection log.
type Summary struct {
	Connections int     `json:"connections"` // connections opened (open events)
	Closed      int     `json:"closed"`      // connections that ended (close events)
	Errors      int     `json:"errors"`      // failed connections (error events)
	BytesUp     int64   `json:"bytes_up"`    // person → target, summed over close events
	BytesDown   int64   `json:"bytes_down"`  // target → person, summed over close events
	Duration    float64 `json:"duration"`    // seconds from the session start to the last event
}

// Add folds one event into s.
func (s *Summary) Add(e Event) {
	switch e.Event {
	case EventOpen:
		s.Connections++
	case EventClose:
		s.Closed++
		s.BytesUp += e.BytesUp
		s.BytesDown += e.BytesDown
	case EventError:
		s.Errors++
		s.BytesUp += e.BytesUp
		s.BytesDown += e.BytesDown
	}
	if e.T > s.Duration {
		s.Duration = e.T
	}
}

// Summarize decodes r and totals its events. On a decoding error it
// returns the totals so far with the error.
func Summarize(r io.Reader) (Summary, error) {
	var s Summary
	d := NewDecoder(r)
	for {
		e, err := d.Next()
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil {
			return s, err
		}
		s.Add(e)
	}
}
