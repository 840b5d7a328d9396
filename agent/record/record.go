// Package record holds the agent's session recorders. A Recorder is a
// writer tap that a protocol proxy writes its recording format into; it
// writes through to the spool (agent/spool). Every recorder has an
// explicit failure mode:
//
//   - FailClosed (the default): a failed write is returned to the proxy,
//     which must stop carrying traffic it can no longer record.
//   - FailOpen: a failed write is logged once, the rest of the recording is
//     dropped, and the session goes on unrecorded.
//
// With recording off a session gets Discard(), so proxies never check for a
// nil recorder.
package record

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// Mode says what a recorder does when its sink fails.
type Mode int

// The modes.
const (
	FailClosed Mode = iota // a failed write fails the session
	FailOpen               // a failed write is logged; the session continues unrecorded
)

func (m Mode) String() string {
	switch m {
	case FailClosed:
		return "fail-closed"
	case FailOpen:
		return "fail-open"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses "fail-closed" or "fail-open".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "fail-closed", "closed", "":
		return FailClosed, nil
	case "fail-open", "open":
		return FailOpen, nil
	}
	return 0, fmt.Errorf("unknown recording mode %q (want fail-closed or fail-open)", s)
}

// Recorder receives a session's recording.
type Recorder interface {
	// Write appends recorded bytes. In FailClosed mode an error means the
	// recording is broken and the session must stop.
	io.Writer
	// Finalize ends the recording (cut: it ended abnormally) and returns
	// its final size. It is idempotent.
	Finalize(cut bool) (size int64, err error)
}

// Sink is where a recorder writes; *spool.Writer implements it.
type Sink interface {
	io.Writer
	Finalize(cut bool) (int64, error)
}

// New returns a recorder writing to sink with the given mode.
func New(sink Sink, mode Mode, logger *slog.Logger) Recorder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &tap{sink: sink, mode: mode, log: logger}
}

type tap struct {
	sink Sink
	mode Mode
	log  *slog.Logger

	mu  sync.Mutex
	err error
}

func (t *tap) Write(p []byte) (int, error) {
	t.mu.Lock()
	failed := t.err
	t.mu.Unlock()
	if failed != nil {
		if t.mode == FailOpen {
			return len(p), nil
		}
		return 0, failed
	}
	n, err := t.sink.Write(p)
	if err == nil {
		return n, nil
	}
	t.mu.Lock()
	if t.err == nil {
		t.err = fmt.Errorf("recording failed: %w", err)
		if t.mode == FailOpen {
			t.log.Error("recording failed; the session continues unrecorded (fail-open)", "err", err)
		} else {
			t.log.Error("recording failed; stopping the session (fail-closed)", "err", err)
		}
	}
	failed = t.err
	t.mu.Unlock()
	if t.mode == FailOpen {
		return len(p), nil
	}
	return 0, failed
}

func (t *tap) Finalize(cut bool) (int64, error) {
	t.mu.Lock()
	failed := t.err != nil
	t.mu.Unlock()
	return t.sink.Finalize(cut || failed)
}

// Discard returns a recorder that records nothing (recording off).
func Discard() Recorder { return discard{} }

type discard struct{}

func (discard) Write(p []byte) (int, error)  { return len(p), nil }
func (discard) Finalize(bool) (int64, error) { return 0, nil }
