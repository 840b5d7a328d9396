package connlog

import (
	"fmt"
	"math"
)

// Event names.
const (
	EventOpen  = "open"
	EventClose = "close"
	EventError = "error"
)

// Event is one line of a connection log. See the package comment for the
// meaning of every field.
type Event struct {
	T         float64 `json:"t"`
	Event     string  `json:"event"`
	Conn      int64   `json:"conn"`
	Peer      string  `json:"peer"`
	Target    string  `json:"target"`
	BytesUp   int64   `json:"bytes_up"`
	BytesDown int64   `json:"bytes_down"`
	Duration  float64 `json:"duration,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// Validate reports the first thing wrong with e, or nil.
func (e Event) Validate() error {
	switch e.Event {
	case EventOpen, EventClose, EventError:
	default:
		return fmt.Errorf("unknown event %q (want open, close or error)", e.Event)
	}
	if math.IsNaN(e.T) || math.IsInf(e.T, 0) || e.T < 0 {
		return fmt.Errorf("bad time offset %v", e.T)
	}
	if e.Conn < 1 {
		return fmt.Errorf("bad connection number %d (want 1 or more)", e.Conn)
	}
	if e.BytesUp < 0 || e.BytesDown < 0 {
		return fmt.Errorf("negative byte count (up %d, down %d)", e.BytesUp, e.BytesDown)
	}
	if math.IsNaN(e.Duration) || math.IsInf(e.Duration, 0) || e.Duration < 0 {
		return fmt.Errorf("bad duration %v", e.Duration)
	}
	return nil
}
