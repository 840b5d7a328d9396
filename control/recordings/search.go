package recordings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
	"github.com/onepam/onepam/recordfmt/container"
)

// TextIndex is what the Indexer needs of the database (see
// control/store/sqlite's textindex.go).
type TextIndex interface {
	BeginRecordingText(ctx context.Context, sessionID string) (ti store.TextIndexing, ok bool, err error)
	AddRecordingText(ctx context.Context, ti *store.TextIndexing, lines []store.TextLine) error
	FinishRecordingText(ctx context.Context, ti *store.TextIndexing, lines []store.TextLine) error
	FailRecordingText(ctx context.Context, sessionID string, f store.TextFailure, reason string) error
	UnindexedRecordings(ctx context.Context, q store.UnindexedQuery) ([]store.UnindexedRecording, error)
	PurgeReplacedText(ctx context.Context) (int64, error)
}

// CatchUpLocker is the lock of the catch-up (the stores'
// TryCatchUpLock): ok is false, without waiting, while another holder has
// it.
type CatchUpLocker interface {
	TryCatchUpLock(ctx context.Context) (release func(), ok bool, err error)
}

// IndexerConfig configures an Indexer. Recordings and Index are required.
type IndexerConfig struct {
	Recordings Opener
	Index      TextIndex
	Logger     *slog.Logger
	// Batch is how many lines go to the index per transaction (default
	// 1000).
	Batch int
	// Timeout bounds one attempt at indexing a recording (default 5 min).
	Timeout time.Duration
	// CatchUpLock, when set, lets one control node at a time run the
	// catch-up (nodes sharing a PostgreSQL database); nil: no lock.
	CatchUpLock CatchUpLocker
	// MaxAttempts is how many attempts a recording gets before the
	// catch-up at start gives up on it (default 3). An attempt during
	// which control stopped counts (a recording that brings control
	// down must not do so at every start); one that control's shutdown
	// interrupted does not.
	MaxAttempts int
}

func (c IndexerConfig) withDefaults() (IndexerConfig, error) {
	if c.Recordings == nil || c.Index == nil {
		return c, errors.New("recordings: IndexerConfig.Recordings and Index are required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Batch <= 0 {
		c.Batch = 1000
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	return c, nil
}

// Indexer fills the search index with the text of terminal recordings once
// they are final: the output lines and the typed input lines, each with
// its offset in the session (asciicast.Lines over Inner of the stored
// bytes).
//
// The database remembers which recordings are indexed: an attempt begins
// (deleting the lines an unfinished attempt left), adds lines a batch per
// transaction, and writes its last lines with the mark "indexed" in one
// transaction; only then are the lines searchable. A control stopped
// half-way leaves an unfinished attempt, which Run (the catch-up at start)
// indexes again, so no recording is left out of search and no line is
// there twice. A recording is indexed once, whatever the number of its
// final chunks and of control's restarts.
type Indexer struct {
	cfg IndexerConfig
	// base is the context of the attempts Start makes; stop ends it.
	base   context.Context
	stop   context.CancelFunc
	mu     sync.Mutex
	busy   map[string]bool // session ids being indexed
	closed bool            // Close was called: Start starts nothing
	wg     sync.WaitGroup
}

// NewIndexer returns an Indexer.
func NewIndexer(cfg IndexerConfig) (*Indexer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base, stop := context.WithCancel(context.Background())
	return &Indexer{cfg: cfg, base: base, stop: stop, busy: map[string]bool{}}, nil
}

// indexable are the recording formats that have text to index.
var indexable = []api.RecordingFormat{api.FormatAsciicast}

// Indexable reports whether recordings of format f have text to index.
func Indexable(f api.RecordingFormat) bool { return slices.Contains(indexable, f) }

// Start indexes a final recording in the background (logged); formats
// without text, recordings indexed already or being indexed, and calls
// after Close are ignored.
func (ix *Indexer) Start(sessionID string, format api.RecordingFormat) {
	if !Indexable(format) {
		return
	}
	ix.mu.Lock()
	if ix.closed || ix.busy[sessionID] {
		ix.mu.Unlock()
		return
	}
	ix.busy[sessionID] = true
	ix.wg.Add(1)
	ix.mu.Unlock()
	go func() {
		defer ix.wg.Done()
		ix.attempt(ix.base, sessionID, format).log(ix.cfg.Logger, "recording text indexed", ix.cfg.MaxAttempts)
	}()
}

// Wait waits for the background indexing started so far.
func (ix *Indexer) Wait() { ix.wg.Wait() }

// Close stops the indexing started by Start and waits for it. An attempt
// it interrupts is made again by the next catch-up.
func (ix *Indexer) Close() {
	ix.mu.Lock()
	ix.closed = true
	ix.mu.Unlock()
	ix.stop()
	ix.wg.Wait()
}

// Index indexes a recording now and returns the number of lines indexed:
// 0 for a format without text and for a recording indexed already or
// being indexed.
func (ix *Indexer) Index(ctx context.Context, sessionID string, format api.RecordingFormat) (int, error) {
	if !Indexable(format) || !ix.claim(sessionID) {
		return 0, nil
	}
	out := ix.attempt(ctx, sessionID, format)
	return int(out.lines), out.err
}

func (ix *Indexer) claim(sessionID string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.busy[sessionID] {
		return false
	}
	ix.busy[sessionID] = true
	return true
}

func (ix *Indexer) release(sessionID string) {
	ix.mu.Lock()
	delete(ix.busy, sessionID)
	ix.mu.Unlock()
}

// outcome is how one attempt at indexing a recording ended.
type outcome struct {
	sessionID string
	attempt   int
	lines     int64
	elapsed   time.Duration
	indexed   bool // false: indexed already (nothing done), or err
	failure   store.TextFailure
	err       error
}

// log writes the outcome's slog line (none for a recording indexed
// already).
func (o outcome) log(l *slog.Logger, indexedMsg string, maxAttempts int) {
	l = l.With("session_id", o.sessionID, "attempt", o.attempt, "elapsed", o.elapsed.Round(time.Millisecond))
	switch {
	case o.indexed:
		l.Info(indexedMsg, "lines", o.lines)
	case o.err == nil:
	case o.failure == store.TextMissing:
		l.Warn("recording text not indexed: the recording is gone; not tried again", "err", o.err)
	case o.failure == store.TextInterrupted:
		l.Info("recording text indexing interrupted by shutdown; made again at the next start", "err", o.err)
	case o.attempt >= maxAttempts:
		l.Error("index recording text; giving up", "max_attempts", maxAttempts, "err", o.err)
	default:
		l.Error("index recording text; tried again at the next start", "max_attempts", maxAttempts, "err", o.err)
	}
}

// attempt makes one attempt at indexing a claimed recording and releases
// it. parent ending (control shutting down) interrupts the attempt.
func (ix *Indexer) attempt(parent context.Context, sessionID string, format api.RecordingFormat) (out outcome) {
	defer ix.release(sessionID)
	start := time.Now()
	out.sessionID = sessionID
	defer func() { out.elapsed = time.Since(start) }()
	ctx, cancel := context.WithTimeout(parent, ix.cfg.Timeout)
	defer cancel()
	ti, ok, err := ix.cfg.Index.BeginRecordingText(ctx, sessionID)
	if err != nil {
		// Nothing was written: the recording is as it was.
		out.failure, out.err = store.TextFailed, err
		if parent.Err() != nil {
			out.failure = store.TextInterrupted
		}
		return out
	}
	if !ok {
		return out // indexed already
	}
	out.attempt = ti.Attempt
	if err := ix.index(ctx, &ti, format); err != nil {
		out.lines, out.err = ti.Lines, err
		switch {
		case errors.Is(err, ErrNotFound):
			out.failure = store.TextMissing
		case parent.Err() != nil:
			out.failure = store.TextInterrupted
		default:
			out.failure = store.TextFailed
		}
		// Written even when parent ended: control is shutting down.
		fctx, fcancel := context.WithTimeout(context.WithoutCancel(parent), 10*time.Second)
		defer fcancel()
		if ferr := ix.cfg.Index.FailRecordingText(fctx, sessionID, out.failure, err.Error()); ferr != nil {
			out.err = errors.Join(err, ferr)
		}
		return out
	}
	out.lines, out.indexed = ti.Lines, true
	return out
}

// index indexes the output and the typed input lines of an attempt, in
// one pass over the recording. A recording damaged at its end is indexed
// up to the damage; an error reading it fails the attempt.
func (ix *Indexer) index(ctx context.Context, ti *store.TextIndexing, format api.RecordingFormat) error {
	rc, err := ix.cfg.Recordings.Open(ctx, ti.SessionID, format)
	if err != nil {
		return fmt.Errorf("open recording: %w", err)
	}
	defer rc.Close()
	batch := make([]store.TextLine, 0, ix.cfg.Batch)
	// Binary lines (asciicast.BinaryLine: a program writing random or
	// compressed bytes to the terminal) are left out: no one searches
	// for them and they cost the full-text index far more than text.
	for l, err := range asciicast.AllLines(Inner(rc), true) {
		if err != nil {
			if !damaged(err) {
				return fmt.Errorf("read recording: %w", err)
			}
			if !errors.Is(err, asciicast.ErrTruncated) {
				ix.cfg.Logger.Warn("recording text indexed up to a damaged part", "session_id", ti.SessionID, "err", err)
			}
			break
		}
		if strings.TrimSpace(l.Text) == "" {
			continue
		}
		batch = append(batch, store.TextLine{Input: l.Input, At: l.Time, Text: l.Text})
		if len(batch) == cap(batch) {
			if err := ix.cfg.Index.AddRecordingText(ctx, ti, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return ix.cfg.Index.FinishRecordingText(ctx, ti, batch)
}

// damaged reports whether a recording's read error is damage in the
// recording itself (cut short, malformed), which no retry mends, rather
// than a failure to read it.
func damaged(err error) bool {
	return errors.Is(err, asciicast.ErrTruncated) || errors.Is(err, asciicast.ErrMalformed) ||
		errors.Is(err, container.ErrMalformed) || errors.Is(err, container.ErrChain)
}
