package ssh

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// recording is a session's terminal recording: one asciicast Recorder that
// every channel writes to, created when the first shell or exec starts (its
// header carries the first pty size and command).
type recording struct {
	info  *proxy.SessionInfo
	shell string
	start time.Time
	fail  func(error)

	mu            sync.Mutex
	width, height int
	term          string
	rec           atomic.Pointer[asciicast.Recorder]
	dirty         atomic.Bool
	failOnce      sync.Once
}

func newRecording(info *proxy.SessionInfo, shell string, fail func(error)) *recording {
	return &recording{info: info, shell: shell, start: info.Clock(), fail: fail}
}

func (r *recording) since() time.Duration { return r.info.Clock().Sub(r.start) }

// pty notes the terminal of a pty-req; the first one before the recording
// begins sizes its header.
func (r *recording) pty(term string, cols, rows int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rec.Load() == nil && r.term == "" {
		r.term, r.width, r.height = term, cols, rows
	}
}

// begin starts the recording (once) with command ("" for a shell).
func (r *recording) begin(command string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rec.Load() != nil {
		return nil
	}
	open := r.info.Open
	h := asciicast.Header{
		Width: r.width, Height: r.height,
		Timestamp: r.start.Unix(),
		Env:       map[string]string{},
		Title:     open.Login + "@" + open.Resource,
		Command:   command,
		SessionID: open.SessionID, User: open.User, Resource: open.Resource, Login: open.Login,
	}
	if h.Width <= 0 || h.Height <= 0 {
		h.Width, h.Height = 80, 24
	}
	if r.term != "" {
		h.Env["TERM"] = r.term
	}
	if r.shell != "" {
		h.Env["SHELL"] = r.shell
	}
	rec, err := asciicast.NewRecorder(r.info.Recorder, h)
	if err != nil {
		return r.failed(err)
	}
	r.rec.Store(rec)
	r.dirty.Store(true)
	return nil
}

func (r *recording) failed(err error) error {
	r.failOnce.Do(func() { r.fail(err) })
	return err
}

// output records p as terminal output. The hot path: one copy into the
// recorder's buffer.
func (r *recording) output(p []byte) error {
	rec := r.rec.Load()
	if rec == nil {
		return nil
	}
	r.dirty.Store(true)
	if err := rec.Output(r.since(), p); err != nil {
		return r.failed(err)
	}
	return nil
}

// input records p as typed input.
func (r *recording) input(p []byte) error {
	rec := r.rec.Load()
	if rec == nil {
		return nil
	}
	r.dirty.Store(true)
	if err := rec.Input(r.since(), p); err != nil {
		return r.failed(err)
	}
	return nil
}

// resize records a window change (or sizes the header when the recording
// has not begun).
func (r *recording) resize(cols, rows int) error {
	rec := r.rec.Load()
	if rec == nil {
		r.mu.Lock()
		if r.rec.Load() == nil {
			r.width, r.height = cols, rows
			r.mu.Unlock()
			return nil
		}
		r.mu.Unlock()
		rec = r.rec.Load()
	}
	r.dirty.Store(true)
	if err := rec.Resize(r.since(), cols, rows); err != nil {
		return r.failed(err)
	}
	return nil
}

// marker records a labelled marker.
func (r *recording) marker(label string) {
	if rec := r.rec.Load(); rec != nil {
		r.dirty.Store(true)
		if err := rec.Marker(r.since(), label); err != nil {
			r.failed(err)
		}
	}
}

// flush pushes buffered events to the spool when something was recorded
// since the last flush.
func (r *recording) flush() {
	rec := r.rec.Load()
	if rec == nil || !r.dirty.Swap(false) {
		return
	}
	if err := rec.Flush(); err != nil {
		r.failed(err)
	}
}

// close ends the recording; a session that never ran a shell or exec
// still gets a valid (header-only) recording.
func (r *recording) close() error {
	if err := r.begin(""); err != nil {
		return err
	}
	return r.rec.Load().Close()
}
