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

	// ckMu serialises checkpoints (their fsyncs and snapshot writes run
	// outside mu, so writes go on while the disk syncs) with Finalize and
	// Abort, which close the files. Lock order: ckMu, then mu.
	ckMu     sync.Mutex
	slotSize [2]int64 // guarded by ckMu

	mu       sync.Mutex
	data     *os.File
	slots    [2]*os.File
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
	w.ckMu.Lock()
	defer w.ckMu.Unlock()
	w.mu.Lock()
	w.armed = false
	if w.closed || w.err != nil {
		w.mu.Unlock()
		return
	}
	w.checkpointLocked()
}

// checkpointLocked makes what was written so far durable: it takes the
// open frame's snapshot under mu, then releases mu for the fsync of the
// data file and the write and fsync of the snapshot slot (writes go on
// meanwhile: a slow disk does not stall the session), and publishes the
// snapshot unless a frame was closed in between (the data file then holds
// it, and a later checkpoint the new open frame). Both mu and ckMu are
// held on entry; mu is released on return.
func (w *Writer) checkpointLocked() {
	needSync := w.unsynced
	w.unsynced = false
	var snap []byte
	var at int64
	if w.dirty {
		w.dirty = false
		var err error
		if at, snap, err = w.cw.Snapshot(nil); err != nil {
			w.fail(err)
			w.mu.Unlock()
			return
		}
	}
	i := w.seq % 2
	w.mu.Unlock()

	var err error
	if needSync {
		if err = w.data.Sync(); err != nil {
			err = fmt.Errorf("spool: sync recording %s: %w", w.rec.ID, err)
		}
	}
	if err == nil && len(snap) > 0 { // empty: the frame was closed by size, the data file has it
		err = w.writeSlot(i, snap)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case err != nil:
		w.fail(err)
	case len(snap) > 0:
		w.seq++
		if w.cw.Stats().Size == at { // the open frame is still the one snapshotted
			w.rec.setTail(snap)
		}
	}
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
	w.ckMu.Lock()
	defer w.ckMu.Unlock()
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
	w.ckMu.Lock()
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		w.timer.Stop()
		w.data.Close()
		w.closeSlots(true)
		w.rec.finish(true)
	}
	w.mu.Unlock()
	w.ckMu.Unlock()
	return w.s.drop(w.rec)
}
