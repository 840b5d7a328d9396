package spool

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// ErrClosed is returned by writes after Finalize or Abort.
var ErrClosed = errors.New("spool: recording already finalised")

// Writer appends to one spooled recording, a recording container
// (recordfmt/container) with one growing open frame: see the package
// comment. It is safe for concurrent use. The first write error is sticky:
// later writes return it.
type Writer struct {
	s     *Spool
	rec   *Recording
	start time.Time // session time 0

	mu       sync.Mutex
	data     *os.File
	slots    [2]*os.File
	slotSize [2]int64
	seq      int // snapshots written
	cw       *container.Writer
	timer    *time.Timer
	armed    bool
	dirty    bool // bytes written since the last snapshot
	unsynced bool // pieces appended to the data file since the last fsync
	raw      int64
	stopped  bool // fail-open at the spool limit: later writes are dropped
	full     bool // OnFull was called
	err      error
	closed   bool
}

// frameSink is the container writer's destination: each Write is one
// piece (file header, frame, trailer) appended to the data file.
type frameSink struct{ w *Writer }

func (f frameSink) Write(p []byte) (int, error) {
	w := f.w
	n, err := w.data.Write(p)
	w.s.account(int64(n))
	if err != nil {
		return n, fmt.Errorf("spool: write recording %s: %w", w.rec.ID, err)
	}
	w.unsynced = true
	w.rec.appended(n)
	return n, nil
}

func (w *Writer) init(id string, format api.RecordingFormat, slotPaths [2]string) error {
	var err error
	for i, p := range slotPaths {
		if w.slots[i], err = os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fmt.Errorf("spool: create snapshot file: %w", err)
		}
	}
	hdr := container.Header{SessionID: id, Format: format, AgentID: w.s.cfg.AgentID, CreatedAt: w.start}
	w.cw, err = container.NewWriter(frameSink{w}, hdr, container.Config{FrameSize: w.s.cfg.FrameSize})
	if err != nil {
		return err
	}
	if err := w.data.Sync(); err != nil {
		return fmt.Errorf("spool: sync recording: %w", err)
	}
	w.timer = time.AfterFunc(time.Hour, w.tick)
	w.timer.Stop()
	return nil
}

// ID returns the session id of the recording.
func (w *Writer) ID() string { return w.rec.ID }

// Write appends p, recorded now, to the recording.
func (w *Writer) Write(p []byte) (int, error) {
	return w.WriteAt(w.s.cfg.Clock().Sub(w.start), p)
}

// WriteAt appends p, recorded at session time at, to the recording.
func (w *Writer) WriteAt(at time.Duration, p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if w.stopped {
		return len(p), nil
	}
	if err := w.s.admit(w, int64(len(p))); err != nil {
		if errors.Is(err, errStopped) {
			w.stopped = true
			return len(p), nil
		}
		return 0, err
	}
	n, err := w.cw.Write(at, p)
	w.raw += int64(n)
	if err != nil {
		w.fail(err)
		return n, w.err
	}
	w.dirty = true
	w.armLocked()
	return n, nil
}

// Stopped reports whether the recording stopped at the spool limit
// (fail-open): the session goes on, later writes are dropped.
func (w *Writer) Stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}

// Size returns the number of inner-format bytes written so far.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.raw
}

func (w *Writer) armLocked() {
	if !w.armed {
		w.armed = true
		w.timer.Reset(w.s.cfg.FlushInterval)
	}
}

// tick runs FlushInterval after data arrived: it makes everything written
// so far durable (fsync of the data file, the open frame's snapshot in the
// next slot) and visible to the uploader.
func (w *Writer) tick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if w.closed || w.err != nil {
		return
	}
	w.checkpointLocked()
}

func (w *Writer) checkpointLocked() {
	if w.unsynced {
		if err := w.data.Sync(); err != nil {
			w.fail(fmt.Errorf("spool: sync recording %s: %w", w.rec.ID, err))
			return
		}
		w.unsynced = false
	}
	if !w.dirty {
		return
	}
	w.dirty = false
	_, snap, err := w.cw.Snapshot(nil)
	if err != nil {
		w.fail(err)
		return
	}
	if len(snap) == 0 {
		return // the frame was closed by size: the data file has it
	}
	i := w.seq % 2
	if err := w.writeSlot(i, snap); err != nil {
		w.fail(err)
		return
	}
	w.seq++
	w.rec.setTail(snap)
}

// writeSlot replaces snapshot slot i with snap, durably. The other slot
// keeps the previous snapshot, so a crash in the middle loses nothing
// that was durable before.
func (w *Writer) writeSlot(i int, snap []byte) error {
	f := w.slots[i]
	grow := int64(len(snap)) - w.slotSize[i]
	if grow > 0 {
		w.s.account(grow)
	}
	if _, err := f.WriteAt(snap, 0); err != nil {
		return fmt.Errorf("spool: write snapshot of %s: %w", w.rec.ID, err)
	}
	if err := f.Truncate(int64(len(snap))); err != nil {
		return fmt.Errorf("spool: write snapshot of %s: %w", w.rec.ID, err)
	}
	if grow < 0 {
		w.s.account(grow)
	}
	w.slotSize[i] = int64(len(snap))
	if err := f.Sync(); err != nil {
		return fmt.Errorf("spool: sync snapshot of %s: %w", w.rec.ID, err)
	}
	return nil
}

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
		w.s.cfg.Logger.Error("recording spool write failed", "session", w.rec.ID, "err", err)
	}
}

// Finalize closes the open frame, writes the trailer signed with the
// agent's key (Config.Signer; without one the recording stays unsigned),
// fsyncs the recording and marks it final; cut says the session ended
// abnormally. It returns the recording's final size. A recording whose
// writes failed is finalised as cut at the last complete frame. Calling
// Finalize again returns the same size.
func (w *Writer) Finalize(cut bool) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.rec.View().Stable, nil
	}
	w.closed = true
	w.timer.Stop()
	w.armed = false
	var errs []error
	if w.err == nil {
		var err error
		if key := w.s.cfg.Signer; len(key) == ed25519.PrivateKeySize {
			err = w.cw.Finish(key)
		} else {
			err = w.cw.Close()
		}
		if err != nil {
			w.fail(err)
		}
	}
	if w.err != nil {
		cut = true
		errs = append(errs, w.err)
		// A failed write may have left part of a piece: cut it.
		if err := w.data.Truncate(w.rec.View().Stable); err != nil {
			errs = append(errs, fmt.Errorf("spool: cut recording %s: %w", w.rec.ID, err))
		}
	}
	if err := w.data.Sync(); err != nil {
		errs = append(errs, fmt.Errorf("spool: sync recording %s: %w", w.rec.ID, err))
	}
	errs = append(errs, w.data.Close(), w.closeSlots(true))
	if err := syncDir(w.s.cfg.Dir); err != nil {
		errs = append(errs, err)
	}
	w.rec.finish(cut)
	return w.rec.View().Stable, errors.Join(errs...)
}

// closeSlots closes the snapshot files, removing them when remove is set.
func (w *Writer) closeSlots(remove bool) error {
	var errs []error
	for i, f := range w.slots {
		if f == nil {
			continue
		}
		errs = append(errs, f.Close())
		if remove {
			errs = append(errs, removeIfExists(f.Name()))
			w.s.account(-w.slotSize[i])
			w.slotSize[i] = 0
		}
	}
	return errors.Join(errs...)
}

// Abort discards the recording entirely (the session never started, so
// there is nothing to keep).
func (w *Writer) Abort() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		w.timer.Stop()
		w.data.Close()
		w.closeSlots(true)
		w.rec.finish(true)
	}
	w.mu.Unlock()
	return w.s.drop(w.rec)
}
