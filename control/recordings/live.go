package recordings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// Live watching: the agent gateway publishes every acknowledged chunk of a
// recording to a Hub (after the chunk is durably stored); a Follower reads
// a recording's stored bytes from an offset and then follows the published
// chunks, so a watcher sees the recording as it grows:
//
//	stored part (Store.Open from the offset) → live chunks (deduplicated by
//	offset) → end (final chunk, or the session ended and EndGrace passed)
//
// Publishing never blocks: a watcher whose channel is full is marked
// behind, and its Follower catches up from storage before taking live
// chunks again.
//
// A recording stored as a container (recordfmt/container, magic "OPREC")
// is uploaded in whole pieces, the open frame re-sent at the same offset
// whenever it grows: its readers decode the concatenated upload stream,
// skipping copies and older versions of pieces. For such a recording the
// Follower passes every live chunk on whole and catches up from the start
// of the last piece it passed on; for any other stored form it passes on
// only the bytes past what it returned (a re-sent chunk after a lost ack
// holds the same bytes). Everything a Follower returns comes from the store or from
// chunks the store already holds, so a watcher never sees bytes that were
// not stored.

// LiveChunk is one acknowledged piece of a recording.
type LiveChunk struct {
	Offset int64  // position of Data[0] in the stored recording
	Data   []byte // shared between subscribers: read-only
	Final  bool   // the recording is complete after Data
}

// DefaultHubBuffer is how many chunks a watcher may lag behind before it is
// caught up from storage.
const DefaultHubBuffer = 64

// Hub fans acknowledged recording chunks out to the watchers of each
// session. The zero value is not usable; call NewHub.
type Hub struct {
	buffer int
	mu     sync.Mutex
	subs   map[string]map[*Subscription]struct{}
}

// NewHub returns a hub whose subscriptions buffer buffer chunks
// (DefaultHubBuffer when buffer <= 0).
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = DefaultHubBuffer
	}
	return &Hub{buffer: buffer, subs: map[string]map[*Subscription]struct{}{}}
}

// Subscription receives the chunks of one session's recording published
// after it was made.
type Subscription struct {
	h      *Hub
	id     string
	c      chan LiveChunk
	behind atomic.Bool
	final  atomic.Bool   // a dropped chunk was the final one
	wake   chan struct{} // signalled when a chunk was dropped
	once   sync.Once
}

// Subscribe starts receiving the chunks of sessionID's recording. Close the
// subscription when done.
func (h *Hub) Subscribe(sessionID string) *Subscription {
	s := &Subscription{h: h, id: sessionID, c: make(chan LiveChunk, h.buffer), wake: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.subs[sessionID]
	if m == nil {
		m = map[*Subscription]struct{}{}
		h.subs[sessionID] = m
	}
	m[s] = struct{}{}
	return s
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.once.Do(func() {
		h := s.h
		h.mu.Lock()
		defer h.mu.Unlock()
		if m := h.subs[s.id]; m != nil {
			delete(m, s)
			if len(m) == 0 {
				delete(h.subs, s.id)
			}
		}
	})
}

// Watchers returns how many subscriptions sessionID has (for tests and
// metrics).
func (h *Hub) Watchers(sessionID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[sessionID])
}

// Publish hands a stored chunk of sessionID's recording to its watchers
// without blocking: a watcher whose buffer is full is marked behind and
// will catch up from storage. c.Data must not be modified afterwards.
func (h *Hub) Publish(sessionID string, c LiveChunk) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[sessionID] {
		select {
		case s.c <- c:
		default:
			if c.Final {
				s.final.Store(true)
			}
			s.behind.Store(true)
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Opener opens stored recordings (Store.Open).
type Opener interface {
	Open(ctx context.Context, sessionID string, format api.RecordingFormat) (io.ReadCloser, error)
}

// FollowConfig says what a Follower reads.
type FollowConfig struct {
	// Store holds the recording (required).
	Store Opener
	// SessionID and Format name the recording.
	SessionID string
	Format    api.RecordingFormat
	// From is the stored offset to start at (0: the whole recording).
	From int64
	// Complete says the recording was already final when the watch began:
	// the Follower ends at the end of what is stored.
	Complete bool
	// EndGrace is how long the Follower still waits for the final chunk
	// after SessionEnded (default 3 s); then it reads what is stored and
	// ends.
	EndGrace time.Duration
}

// DefaultEndGrace is FollowConfig.EndGrace's default.
const DefaultEndGrace = 3 * time.Second

func (c FollowConfig) withDefaults() (FollowConfig, error) {
	if c.Store == nil {
		return c, errors.New("recordings: FollowConfig.Store is required")
	}
	if err := CheckSessionID(c.SessionID); err != nil {
		return c, err
	}
	if _, err := Ext(c.Format); err != nil {
		return c, err
	}
	if c.From < 0 {
		return c, fmt.Errorf("recordings: negative offset %d", c.From)
	}
	if c.EndGrace <= 0 {
		c.EndGrace = DefaultEndGrace
	}
	return c, nil
}

// Follower reads a recording's stored bytes from an offset and follows its
// live chunks until the recording is final (or the session ended and the
// grace passed), the context ends, or Close is called. It is an
// io.ReadCloser for one reader goroutine; SessionEnded may be called from
// any goroutine.
type Follower struct {
	ctx context.Context
	cfg FollowConfig
	sub *Subscription

	pos       int64         // stored offset up to which bytes were made pending
	base      int64         // start of the last whole live chunk passed on (containers)
	last      []byte        // that chunk's bytes
	same      []byte        // storage at readAt holding exactly these is skipped
	head      []byte        // the first bytes of the recording, to recognise a container
	pending   []byte        // bytes ready to return
	stored    io.ReadCloser // open while catching up from storage
	catchUp   bool          // read storage before taking live chunks
	readAt    int64         // stored offset the catch-up reads next
	finishing bool          // after the catch-up, the recording ends
	graceC    <-chan time.Time
	grace     *time.Timer
	buf       []byte

	ended     chan struct{}
	endedOnce sync.Once
	err       error
}

// Follow subscribes to a recording's chunks and returns a Follower that
// starts at cfg.From. The subscription is made before storage is read, so
// no chunk falls between the stored part and the live one.
func (h *Hub) Follow(ctx context.Context, cfg FollowConfig) (*Follower, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Follower{
		ctx: ctx, cfg: cfg, sub: h.Subscribe(cfg.SessionID), pos: cfg.From, readAt: cfg.From,
		catchUp: true, finishing: cfg.Complete, ended: make(chan struct{}),
	}, nil
}

// Offset returns the stored offset of the next byte Read returns.
func (f *Follower) Offset() int64 { return f.pos }

// SessionEnded tells the Follower the session is over: the final chunk
// should follow soon; after EndGrace the Follower ends with what is stored.
func (f *Follower) SessionEnded() {
	f.endedOnce.Do(func() { close(f.ended) })
}

// Close ends the subscription and releases storage.
func (f *Follower) Close() error {
	f.sub.Close()
	if f.grace != nil {
		f.grace.Stop()
	}
	if f.stored != nil {
		err := f.stored.Close()
		f.stored = nil
		return err
	}
	return nil
}

// Read implements io.Reader.
func (f *Follower) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for len(f.pending) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		if err := f.fill(); err != nil {
			f.err = err
			if f.stored != nil {
				_ = f.stored.Close()
				f.stored = nil
			}
		}
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// isContainer reports whether the recording is a container (known once its
// first bytes were seen from offset 0).
func (f *Follower) isContainer() bool {
	return len(f.head) >= len(container.Magic) && IsContainer(f.head)
}

// emit makes data, found at stored offset off, pending.
func (f *Follower) emit(off int64, data []byte) {
	if off < int64(len(container.Magic)) && len(f.head) < len(container.Magic) && off == int64(len(f.head)) {
		f.head = append(f.head, data[:min(len(data), len(container.Magic)-len(f.head))]...)
	}
	f.pending = data
	f.pos = max(f.pos, off+int64(len(data)))
}

// fill makes bytes pending, or returns the error that ends the stream
// (io.EOF at the end of the recording).
func (f *Follower) fill() error {
	if err := f.ctx.Err(); err != nil {
		return err
	}
	if f.catchUp {
		return f.readStored()
	}
	select {
	case <-f.ctx.Done():
		return f.ctx.Err()
	case c := <-f.sub.c:
		f.take(c)
	case <-f.sub.wake:
		if f.sub.behind.Swap(false) {
			f.startCatchUp()
			f.finishing = f.finishing || f.sub.final.Load()
		}
	case <-f.ended:
		f.ended = nil // a nil channel never fires again
		if f.grace == nil {
			f.grace = time.NewTimer(f.cfg.EndGrace)
			f.graceC = f.grace.C
		}
	case <-f.graceC:
		f.startCatchUp()
		f.finishing = true
	}
	return nil
}

// startCatchUp makes the next reads come from storage: from the start of
// the last piece passed on for a container (storage holds its latest
// version there), from the current offset otherwise.
func (f *Follower) startCatchUp() {
	f.catchUp = true
	f.readAt, f.same = f.pos, nil
	switch {
	case !f.isContainer():
	case f.last != nil:
		f.readAt, f.same = f.base, f.last
	default:
		// No piece boundary known past the start (what was read from
		// storage may have been rewritten since): from the start again;
		// the decoder skips the copies.
		f.readAt = 0
	}
}

// take uses a live chunk. Chunks past the current offset (missed ones)
// make the Follower catch up from storage, which already holds them. A
// container's chunks are passed on whole (its decoder skips re-sent
// pieces); for other stored forms only the bytes past the current offset.
func (f *Follower) take(c LiveChunk) {
	end := c.Offset + int64(len(c.Data))
	switch {
	case c.Offset > f.pos:
		f.startCatchUp() // the pieces between were never passed on
	case f.isContainer():
		if len(c.Data) > 0 {
			f.base, f.last = c.Offset, c.Data
			f.emit(c.Offset, c.Data)
		}
	case end > f.pos:
		f.emit(f.pos, c.Data[f.pos-c.Offset:])
	}
	if c.Final {
		// After the pending bytes, a last look at storage, then the end.
		if !f.catchUp {
			f.startCatchUp()
			f.readAt = f.pos
		}
		f.finishing = true
	}
}

// readStored reads the next piece of the stored recording from the current
// offset; at the end of what is stored the catch-up ends (and the stream,
// when finishing).
func (f *Follower) readStored() error {
	if f.stored == nil {
		rc, err := f.cfg.Store.Open(f.ctx, f.cfg.SessionID, f.cfg.Format)
		if errors.Is(err, ErrNotFound) {
			// Nothing stored yet: the first chunk will come live.
			return f.endCatchUp()
		}
		if err != nil {
			return fmt.Errorf("watch recording %s: %w", f.cfg.SessionID, err)
		}
		if err := skip(rc, f.readAt); err != nil {
			rc.Close()
			return fmt.Errorf("watch recording %s: seek to %d: %w", f.cfg.SessionID, f.readAt, err)
		}
		f.stored = rc
		if len(f.same) > 0 {
			// The piece passed on last: skipped when storage still holds
			// that version, passed on again when it holds a newer one.
			got := make([]byte, len(f.same))
			n, err := io.ReadFull(rc, got)
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("watch recording %s: %w", f.cfg.SessionID, err)
			}
			same := bytes.Equal(got[:n], f.same)
			f.same = nil
			if !same && n > 0 {
				f.emit(f.readAt, got[:n])
			}
			f.readAt += int64(n)
			if n > 0 && !same {
				return nil
			}
		}
	}
	if f.buf == nil {
		f.buf = make([]byte, 64<<10)
	}
	n, err := f.stored.Read(f.buf)
	if n > 0 {
		f.emit(f.readAt, f.buf[:n])
		f.readAt += int64(n)
		return nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("watch recording %s: %w", f.cfg.SessionID, err)
	}
	_ = f.stored.Close()
	f.stored = nil
	return f.endCatchUp()
}

func (f *Follower) endCatchUp() error {
	f.catchUp = false
	if f.finishing {
		return io.EOF
	}
	return nil
}

// skip moves r to offset off: by seeking when r can, else by reading.
func skip(r io.Reader, off int64) error {
	if off == 0 {
		return nil
	}
	if s, ok := r.(io.Seeker); ok {
		_, err := s.Seek(off, io.SeekStart)
		return err
	}
	n, err := io.CopyN(io.Discard, r, off)
	if err == io.EOF && n < off {
		return fmt.Errorf("the stored recording holds only %d bytes", n)
	}
	return err
}
