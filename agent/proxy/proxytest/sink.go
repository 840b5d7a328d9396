package proxytest

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/record"
	"github.com/onepam/onepam/pkg/api"
)

// Sink is a recording sink (record.Sink) in memory, safe for concurrent
// use.
type Sink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (s *Sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// Finalize reports the bytes written so far.
func (s *Sink) Finalize(bool) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.buf.Len()), nil
}

// Bytes returns a copy of everything written so far.
func (s *Sink) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.buf.Bytes()...)
}

// String returns everything written so far.
func (s *Sink) String() string { return string(s.Bytes()) }

// Logger logs to stderr under go test -v and discards otherwise.
func Logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Info returns the SessionInfo the agent would build for open and
// target: a fail-closed recorder writing to sink (record.Discard() when
// sink is nil), a discarding logger, time.Now, a net.Dialer and a Fail
// that ignores the error. Target.Type defaults to open.Type. Callers
// change the fields they care about.
func Info(open api.SessionOpen, target proxy.Target, sink record.Sink) *proxy.SessionInfo {
	if target.Type == "" {
		target.Type = open.Type
	}
	rec := record.Discard()
	if sink != nil {
		rec = record.New(sink, record.FailClosed, nil)
	}
	return &proxy.SessionInfo{
		Open:     open,
		Target:   target,
		Recorder: rec,
		Logger:   slog.New(slog.DiscardHandler),
		Clock:    time.Now,
		Dial:     (&net.Dialer{}).DialContext,
		Fail:     func(error) {},
	}
}
