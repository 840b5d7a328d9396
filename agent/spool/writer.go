package spool

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ErrClosed is returned by writes after Finalize or Abort.
var ErrClosed = errors.New("spool: recording already finalised")

// Writer appends to one spooled recording. It is safe for concurrent use.
// The first write error is sticky: later writes return it.
type Writer struct {
	s   *Spool
	rec *Recording

	mu       sync.Mutex
	data     *os.File
	meta     *os.File
	buf      []byte
	written  int64 // bytes accepted by Write (buffered or flushed)
	flushed  int64 // bytes handed to the file system
	synced   int64 // bytes known durable
	lastSync time.Time
	timer    *time.Timer
	armed    bool
	err      error
	closed   bool
}

func newWriter(s *Spool, rec *Recording, data, meta *os.File) *Writer {
	w := &Writer{s: s, rec: rec, data: data, meta: meta, buf: make([]byte, 0, s.cfg.BufferSize)}
	w.timer = time.AfterFunc(time.Hour, w.tick)
	w.timer.Stop()
	return w
}

// ID returns the session id of the recording.
func (w *Writer) ID() string { return w.rec.ID }

// Write appends p to the recording.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if len(w.buf)+len(p) > cap(w.buf) {
		if err := w.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= cap(w.buf) {
		if err := w.writeFile(p); err != nil {
			return 0, err
		}
	} else {
		w.buf = append(w.buf, p...)
	}
	w.written += int64(len(p))
	w.armLocked(w.s.cfg.FlushDelay)
	return len(p), nil
}

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

func (w *Writer) armLocked(d time.Duration) {
	if !w.armed {
		w.armed = true
		w.timer.Reset(d)
	}
}

// tick runs FlushDelay after data arrived: it flushes the buffer and
// fsyncs when the last sync is SyncInterval old, re-arming itself while
// unsynced data remains.
func (w *Writer) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if w.closed || w.err != nil {
		return
	}
	if err := w.flushLocked(); err != nil {
		return
	}
	if w.flushed == w.synced {
		return
	}
	since := time.Since(w.lastSync)
	if since >= w.s.cfg.SyncInterval {
		w.syncLocked()
		return
	}
	w.armLocked(w.s.cfg.SyncInterval - since)
}

func (w *Writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.writeFile(w.buf)
	w.buf = w.buf[:0]
	return err
}

// writeFile writes p to the data file with one call and publishes the new
// size to readers.
func (w *Writer) writeFile(p []byte) error {
	if _, err := w.data.Write(p); err != nil {
		w.fail(fmt.Errorf("spool: write recording %s: %w", w.rec.ID, err))
		return w.err
	}
	w.flushed += int64(len(p))
	w.rec.update(w.flushed, false, false)
	return nil
}

func (w *Writer) syncLocked() {
	if err := w.data.Sync(); err != nil {
		w.fail(fmt.Errorf("spool: sync recording %s: %w", w.rec.ID, err))
		return
	}
	if err := appendRecord(w.meta, sideRecord{kind: kindSynced, length: w.flushed}); err != nil {
		w.fail(err)
		return
	}
	w.synced = w.flushed
	w.lastSync = time.Now()
}

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
		w.s.cfg.Logger.Error("recording spool write failed", "session", w.rec.ID, "err", err)
	}
}

// Finalize flushes and fsyncs the recording and marks it final; cut says
// it ended abnormally. It returns the recording's final size. A recording
// whose writes failed is finalised as cut at the size that reached the
// file. Calling Finalize again returns the same size.
func (w *Writer) Finalize(cut bool) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.flushed, nil
	}
	w.closed = true
	w.timer.Stop()
	w.armed = false
	if w.err == nil {
		w.flushLocked()
	}
	if w.err != nil {
		cut = true
	}
	var errs []error
	if w.err != nil {
		errs = append(errs, w.err)
	}
	if err := w.data.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("spool: sync recording %s: %w", w.rec.ID, err))
	}
	kind := kindFinal
	if cut {
		kind = kindCut
	}
	if err := appendRecord(w.meta, sideRecord{kind: kind, length: w.flushed}); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, w.data.Close(), w.meta.Close())
	w.rec.update(w.flushed, true, cut)
	return w.flushed, errors.Join(errs...)
}

// Abort discards the recording entirely (the session never started, so
// there is nothing to keep).
func (w *Writer) Abort() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		w.timer.Stop()
		w.data.Close()
		w.meta.Close()
		w.rec.update(w.flushed, true, true)
	}
	w.mu.Unlock()
	return w.s.drop(w.rec)
}
