package asciicast

import (
	"errors"
	"time"
)

// Magic starts every stored-form stream; Version follows it.
const (
	Magic   = "OPCAST"
	Version = 1
)

// Limits of the stored form. Readers reject larger values; the Recorder
// splits larger writes into several events.
const (
	MaxHeaderSize = 64 << 10 // header JSON
	MaxEventSize  = 1 << 20  // one event's payload
)

// Event type bytes of the stored form.
const (
	TypeOutput byte = 'o'
	TypeInput  byte = 'i'
	TypeResize byte = 'r'
	TypeMarker byte = 'm'
)

var (
	// ErrMalformed is wrapped by every error caused by bad input, in the
	// stored form and in asciicast v2 alike.
	ErrMalformed = errors.New("malformed recording")
	// ErrTruncated is wrapped by the error returned when a stored-form
	// stream ends inside an event; every complete event before it was
	// returned.
	ErrTruncated = errors.New("recording truncated")
)

// Header describes a terminal recording: the asciicast v2 header fields plus onepam's own.
type Header struct {
	Width, Height                    int               // terminal size at start
	Timestamp                        int64             // unix seconds of the start
	Env                              map[string]string // TERM, SHELL
	Title                            string
	Command                          string // exec command; "" for an interactive shell
	SessionID, User, Resource, Login string
}

// storedHeader is the JSON shape of Header in the stored form.
type storedHeader struct {
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Title     string            `json:"title,omitempty"`
	Command   string            `json:"command,omitempty"`
	SessionID string            `json:"session_id,omitempty"`
	User      string            `json:"user,omitempty"`
	Resource  string            `json:"resource,omitempty"`
	Login     string            `json:"login,omitempty"`
}

func (h Header) stored() storedHeader {
	return storedHeader{
		Width: h.Width, Height: h.Height, Timestamp: h.Timestamp, Env: h.Env, Title: h.Title,
		Command: h.Command, SessionID: h.SessionID, User: h.User, Resource: h.Resource, Login: h.Login,
	}
}

func (s storedHeader) header() Header {
	return Header{
		Width: s.Width, Height: s.Height, Timestamp: s.Timestamp, Env: s.Env, Title: s.Title,
		Command: s.Command, SessionID: s.SessionID, User: s.User, Resource: s.Resource, Login: s.Login,
	}
}

// micros converts a duration to whole microseconds, clamping negatives to 0.
func micros(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(d / time.Microsecond)
}
