package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// MaxUploadChunk is the largest chunk the uploader sends.
const MaxUploadChunk = 1 << 20

// StreamOpener opens a new stream to control; *yamux.Session implements it.
type StreamOpener interface {
	Open() (net.Conn, error)
}

// UploaderConfig configures an Uploader. Zero fields take the defaults of
// withDefaults.
type UploaderConfig struct {
	Logger *slog.Logger
	// RetryDelay is how long a failed upload waits before it is tried again
	// on the same link. Default 1 s.
	RetryDelay time.Duration
	// Poll is the fallback poll of a recording's state in case a wake-up
	// was missed. Default 2 s.
	Poll time.Duration
	// TailInterval is the least time between two uploads of a growing
	// open frame (closed frames and the final chunk go at once): each
	// upload re-sends the whole open frame, so this bounds the upload
	// traffic of slow sessions. Control, and live watchers, are at most
	// this much (plus the spool's FlushInterval) behind. Default 2 s.
	TailInterval time.Duration
	// ChunkInterval is the least time between two chunks of closed frames
	// unless MaxUploadChunk bytes are waiting or the recording is final:
	// a bulk session closes hundreds of small frames a second, and each
	// chunk costs control a durable write. Default 250 ms.
	ChunkInterval time.Duration
}

func (c UploaderConfig) withDefaults() UploaderConfig {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.TailInterval <= 0 {
		c.TailInterval = 2 * time.Second
	}
	if c.ChunkInterval <= 0 {
		c.ChunkInterval = 250 * time.Millisecond
	}
	return c
}

// Uploader streams spooled recordings to control.
type Uploader struct {
	spool *Spool
	cfg   UploaderConfig
}

// NewUploader returns an uploader of s's recordings.
func NewUploader(s *Spool, cfg UploaderConfig) *Uploader {
	return &Uploader{spool: s, cfg: cfg.withDefaults()}
}

// Run uploads every recording of the spool, present and future, over
// streams opened with open, until ctx ends (the life of one link to
// control). Uploads that fail are retried after RetryDelay; a recording is
// deleted from the spool once control acknowledged its final chunk.
func (u *Uploader) Run(ctx context.Context, open StreamOpener) {
	var (
		mu      sync.Mutex
		running = map[string]bool{}
		wg      sync.WaitGroup
		retry   = make(chan struct{}, 1)
	)
	defer wg.Wait()
	for {
		added := u.spool.Added()
		for _, rec := range u.spool.Recordings() {
			mu.Lock()
			busy := running[rec.ID]
			running[rec.ID] = true
			mu.Unlock()
			if busy {
				continue
			}
			wg.Add(1)
			go func(rec *Recording) {
				defer wg.Done()
				err := u.Upload(ctx, open, rec)
				if err != nil && ctx.Err() == nil {
					u.cfg.Logger.Warn("recording upload failed; retrying", "session", rec.ID, "err", err, "retry_in", u.cfg.RetryDelay)
					select {
					case <-time.After(u.cfg.RetryDelay):
					case <-ctx.Done():
					}
				}
				mu.Lock()
				delete(running, rec.ID)
				mu.Unlock()
				select {
				case retry <- struct{}{}:
				default:
				}
			}(rec)
		}
		select {
		case <-ctx.Done():
			return
		case <-added:
		case <-retry:
		}
	}
}

// Upload sends one recording over a new stream: it resumes at the offset
// control acknowledges first and returns nil once control acknowledged the
// final chunk and the recording was removed from the spool.
func (u *Uploader) Upload(ctx context.Context, open StreamOpener, rec *Recording) error {
	st, err := open.Open()
	if err != nil {
		return fmt.Errorf("open recording stream: %w", err)
	}
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { st.Close() })
	defer stop()

	if err := tunnel.WriteHeader(st, api.StreamRecording, api.RecordingOpen{SessionID: rec.ID, Format: rec.Format}); err != nil {
		return fmt.Errorf("send recording header: %w", err)
	}
	var first api.RecordingAck
	if err := tunnel.ReadFrame(st, &first); err != nil {
		return fmt.Errorf("read first recording ack: %w", err)
	}
	if first.Error != "" {
		return fmt.Errorf("control refused the recording: %s", first.Error)
	}
	if first.Final {
		// Control already holds the complete recording.
		return u.spool.Remove(rec.ID)
	}
	ra, closer, err := rec.Reader()
	if err != nil {
		return err
	}
	defer closer.Close()

	// Acks arrive on their own goroutine so a slow reader never stalls the
	// sender; the final ack (or an error) ends the upload.
	acks := make(chan error, 1)
	go func() { acks <- readAcks(st) }()

	log := u.cfg.Logger.With("session", rec.ID)
	// Control may hold a partial piece (a chunk cut by its crash) or an
	// older version of the open frame: resume at the start of the piece
	// holding the last byte it has. Re-sending it is harmless.
	v := rec.View()
	off := min(first.Offset, v.Size())
	if off > 0 {
		off = rec.pieceStart(off - 1)
	}
	if rec.Legacy() {
		off = first.Offset
	}
	log.Debug("uploading recording", "control_has", first.Offset, "resume_at", off)
	sent := int64(-1) // where the last tail version went, -1 when none is out
	var sentTail []byte
	var lastTail time.Time // when a tail version was last sent
	buf := make([]byte, MaxUploadChunk)
	var lastChunk time.Time // when closed pieces were last sent
	for {
		v := rec.View()
		if sent >= 0 && (len(v.Tail) == 0 || &v.Tail[0] != &sentTail[0] || v.Stable != sent) {
			// The open frame changed (grew or was closed): send it again.
			off = min(off, sent)
			sent, sentTail = -1, nil
		}
		size := v.Stable
		if rec.Legacy() && off > size && v.Final {
			log.Warn("control holds more of this recording than the spool; finishing at control's size", "control", off, "spool", size)
			size = off
		}
		var chunkTimer <-chan time.Time
		if off < size && !v.Final && size-off < MaxUploadChunk {
			// A little closed data: wait for more, up to ChunkInterval.
			if wait := time.Until(lastChunk.Add(u.cfg.ChunkInterval)); wait > 0 {
				chunkTimer = time.After(wait)
				size = off
			}
		}
		if off < size {
			lastChunk = time.Now()
		}
		for off < size {
			end := rec.chunkEnd(off, size, MaxUploadChunk)
			n := end - off
			if _, err := ra.ReadAt(buf[:n], off); err != nil && !(errors.Is(err, io.EOF) && n > 0) {
				return fmt.Errorf("read spooled recording at %d: %w", off, err)
			}
			last := v.Final && end == size
			if err := tunnel.WriteChunk(st, tunnel.Chunk{Offset: off, Data: buf[:n], Final: last}); err != nil {
				return fmt.Errorf("send recording chunk: %w", err)
			}
			off = end
			if last {
				return u.finish(ctx, acks, rec, off, log)
			}
		}
		if v.Final {
			if err := tunnel.WriteChunk(st, tunnel.Chunk{Offset: off, Final: true}); err != nil {
				return fmt.Errorf("send final recording chunk: %w", err)
			}
			return u.finish(ctx, acks, rec, off, log)
		}
		var tailTimer <-chan time.Time
		if len(v.Tail) > 0 && sent < 0 && off == v.Stable {
			if wait := time.Until(lastTail.Add(u.cfg.TailInterval)); wait > 0 {
				tailTimer = time.After(wait)
			} else {
				if err := tunnel.WriteChunk(st, tunnel.Chunk{Offset: off, Data: v.Tail}); err != nil {
					return fmt.Errorf("send recording chunk: %w", err)
				}
				sent, sentTail, lastTail = off, v.Tail, time.Now()
			}
		}
		select {
		case <-tailTimer:
		case <-chunkTimer:
		case <-v.Changed:
		case <-time.After(u.cfg.Poll):
		case err := <-acks:
			return ackEnd(err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// finish waits for the final ack and removes the recording.
func (u *Uploader) finish(ctx context.Context, acks <-chan error, rec *Recording, size int64, log *slog.Logger) error {
	select {
	case err := <-acks:
		if err != nil {
			return ackEnd(err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	log.Debug("recording uploaded", "size", size)
	return u.spool.Remove(rec.ID)
}

// readAcks reads acks until the final one (nil) or an error.
func readAcks(r io.Reader) error {
	for {
		var a api.RecordingAck
		if err := tunnel.ReadFrame(r, &a); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("control closed the recording stream before acknowledging the final chunk")
			}
			return fmt.Errorf("read recording ack: %w", err)
		}
		if a.Error != "" {
			return fmt.Errorf("control refused a recording chunk: %s", a.Error)
		}
		if a.Final {
			return nil
		}
	}
}

func ackEnd(err error) error {
	if err == nil {
		return errors.New("control acknowledged a final chunk that was not sent")
	}
	return err
}
