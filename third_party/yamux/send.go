package yamux

import (
	"io"
	"runtime"
	"sync"
	"time"
)

// This file replaces upstream's send goroutine (a channel of frames drained
// by one writer, each caller waiting for its frame to be written) with a
// combining writer, for OnePAM (see ../README.onepam.md):
//
//   - Frames are appended to one queue in the order they are sent, so the
//     wire order is the order of the calls, as before.
//   - A caller that finds nobody writing writes the queue itself, on its
//     own goroutine: a small message costs no hand-off to another
//     goroutine and back (each of which may wake an OS thread).
//   - A caller that finds someone writing leaves its frame in the queue;
//     the writer takes everything queued in one Write, so concurrent
//     streams share TLS records and system calls.
//   - The receive loop never writes (it must never block on the
//     connection): its frames (pings, acks, resets) are queued and a new
//     goroutine writes them if nobody else is writing.
//   - A writer waits while more than sendQueueMax bytes are queued, which
//     bounds memory and pushes back on fast writers as before.
//   - Bodies of at least sendDirectMin bytes are written from the caller's
//     buffer after the queue, without a copy.
//   - A write that makes no progress for ConnectionWriteTimeout ends the
//     session with ErrConnectionWriteTimeout (closing the connection frees
//     the blocked writer). Upstream, the caller gave up after that time
//     while the send goroutine stayed blocked.
//
// A write error ends the session (as a send loop error did upstream).

const (
	sendQueueMax  = 256 << 10
	sendDirectMin = 32 << 10
	sendNoWaitMax = 4 << 20
)

// sender is the session's outgoing queue.
type sender struct {
	mu      sync.Mutex
	cond    sync.Cond // signalled when a write ends or the session shuts down
	queue   []byte    // frames not yet handed to the connection
	spare   []byte    // the previous queue's buffer, reused
	writing bool      // a goroutine is writing the queue
	err     error     // sticky: the first write error, or ErrSessionShutdown
	gen     uint64    // counts writes, for the watchdog
}

func (o *sender) init() {
	o.cond.L = &o.mu
}

// waitForSend sends a header with an optional body and returns once it is
// written or queued behind a writer.
func (s *Session) waitForSend(hdr header, body []byte) error {
	return s.sendFrame(hdr, body, true)
}

// waitForSendErr is waitForSend; errCh is unused (kept for the callers).
func (s *Session) waitForSendErr(hdr header, body []byte, _ chan error) error {
	return s.sendFrame(hdr, body, true)
}

// sendNoWait queues a header without ever blocking on the connection; the
// receive loop uses it.
func (s *Session) sendNoWait(hdr header) error {
	return s.sendFrame(hdr, nil, false)
}

// sendFrame queues hdr and body. When write is set and nobody is writing,
// the caller writes the queue itself; otherwise the current writer (or,
// when write is not set, the background goroutine) does.
func (s *Session) sendFrame(hdr header, body []byte, write bool) error {
	o := &s.out
	direct := write && len(body) >= sendDirectMin
	o.mu.Lock()
	if write {
		for o.err == nil && o.writing && (direct || len(o.queue) >= sendQueueMax) {
			o.cond.Wait()
		}
	}
	if o.err != nil {
		err := o.err
		o.mu.Unlock()
		return err
	}
	if s.IsClosed() {
		o.mu.Unlock()
		return ErrSessionShutdown
	}
	if !write && len(o.queue) >= sendNoWaitMax {
		// The connection takes nothing: the watchdog will end the
		// session; meanwhile do not grow without bound.
		o.mu.Unlock()
		return ErrConnectionWriteTimeout
	}
	o.queue = append(o.queue, hdr...)
	if !direct {
		o.queue = append(o.queue, body...)
		body = nil
	}
	if o.writing {
		o.mu.Unlock()
		return nil
	}
	o.writing = true
	if !write {
		go s.flushAsync()
		o.mu.Unlock()
		return nil
	}
	if !direct {
		// Let the goroutines that are ready to run (typically woken by
		// the same poll: other streams' messages) queue their frames
		// first, so that one Write carries them all. It costs one trip
		// through the scheduler and adds no wait when nothing else is
		// runnable.
		o.mu.Unlock()
		runtime.Gosched()
		o.mu.Lock()
	}
	err := s.flushLocked(body)
	o.mu.Unlock()
	return err
}

// flushLocked writes the queue, then direct, then whatever was queued
// meanwhile, until the queue is empty. o.mu is held and o.writing set by
// the caller; flushLocked clears it.
func (s *Session) flushLocked(direct []byte) error {
	o := &s.out
	for o.err == nil && (len(o.queue) > 0 || direct != nil) {
		b, d := o.queue, direct
		o.queue, direct = o.spare[:0], nil
		o.mu.Unlock()
		err := writeAll(s.conn, b, d)
		o.mu.Lock()
		if cap(b) <= 4*sendQueueMax {
			o.spare = b[:0]
		} else {
			o.spare = nil
		}
		o.gen++
		if err != nil && o.err == nil {
			// The session ends: callers see ErrSessionShutdown (which
			// Stream.Read ignores for its window update), the cause is
			// the session's shutdown error.
			if !s.IsClosed() {
				s.logger.Printf("[ERR] yamux: Failed to write: %v", err)
				go s.exitErr(err)
			}
			o.err = ErrSessionShutdown
		}
		o.cond.Broadcast()
	}
	o.writing = false
	o.cond.Broadcast()
	return o.err
}

func writeAll(w io.Writer, b, d []byte) error {
	if len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if len(d) > 0 {
		if _, err := w.Write(d); err != nil {
			return err
		}
	}
	return nil
}

// flushAsync writes the queue for a caller that must not block; o.writing
// was set for it.
func (s *Session) flushAsync() {
	o := &s.out
	o.mu.Lock()
	_ = s.flushLocked(nil)
	o.mu.Unlock()
}

// send is the session's background goroutine: it ends the session when a
// write is stuck for ConnectionWriteTimeout, and fails pending sends when
// the session shuts down.
func (s *Session) send() {
	defer close(s.sendDoneCh)
	o := &s.out
	const checks = 4 // watchdog checks per ConnectionWriteTimeout
	tick := time.NewTicker(max(s.config.ConnectionWriteTimeout/checks, time.Millisecond))
	defer tick.Stop()
	var lastGen uint64
	stuck := 0
	for {
		select {
		case <-tick.C:
			o.mu.Lock()
			if o.writing && o.gen == lastGen && o.err == nil {
				stuck++
			} else {
				stuck = 0
			}
			lastGen = o.gen
			if stuck >= checks {
				o.err = ErrConnectionWriteTimeout
				o.cond.Broadcast()
				s.logger.Printf("[ERR] yamux: connection write stuck for %v", s.config.ConnectionWriteTimeout)
				go s.exitErr(ErrConnectionWriteTimeout)
			}
			o.mu.Unlock()
		case <-s.shutdownCh:
			o.mu.Lock()
			if o.err == nil {
				o.err = ErrSessionShutdown
			}
			o.cond.Broadcast()
			o.mu.Unlock()
			return
		}
	}
}
