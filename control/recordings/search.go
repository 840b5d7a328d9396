package recordings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// TextIndex is what the Indexer needs of the database.
type TextIndex interface {
	IndexRecordingText(ctx context.Context, sessionID string, lines []store.TextLine) error
}

// IndexerConfig configures an Indexer. Recordings and Index are required.
type IndexerConfig struct {
	Recordings Opener
	Index      TextIndex
	Logger     *slog.Logger
	// Batch is how many lines go to the index per call (default 1000).
	Batch int
	// Timeout bounds the indexing of one recording (default 5 min).
	Timeout time.Duration
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
	return c, nil
}

// Indexer fills the search index with the text of terminal recordings once
// they are final: the output lines and the typed input lines, each with
// its offset in the session (asciicast.Lines over Inner of the stored
// bytes). Each recording is indexed once per process.
type Indexer struct {
	cfg  IndexerConfig
	mu   sync.Mutex
	done map[string]bool // session ids indexed or being indexed
	wg   sync.WaitGroup
}

// NewIndexer returns an Indexer.
func NewIndexer(cfg IndexerConfig) (*Indexer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Indexer{cfg: cfg, done: map[string]bool{}}, nil
}

// Indexable reports whether recordings of format f have text to index.
func Indexable(f api.RecordingFormat) bool { return f == api.FormatAsciicast }

// Start indexes a final recording in the background (logged); formats
// without text and recordings already indexed are ignored.
func (ix *Indexer) Start(sessionID string, format api.RecordingFormat) {
	if !Indexable(format) || !ix.claim(sessionID) {
		return
	}
	ix.wg.Add(1)
	go func() {
		defer ix.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), ix.cfg.Timeout)
		defer cancel()
		start := time.Now()
		n, err := ix.index(ctx, sessionID, format)
		log := ix.cfg.Logger.With("session_id", sessionID, "lines", n, "elapsed", time.Since(start).Round(time.Millisecond))
		if err != nil {
			log.Error("index recording text", "err", err)
			ix.mu.Lock()
			delete(ix.done, sessionID) // a later final chunk may retry
			ix.mu.Unlock()
			return
		}
		log.Info("recording text indexed")
	}()
}

// Wait waits for the background indexing started so far.
func (ix *Indexer) Wait() { ix.wg.Wait() }

// Index indexes a recording now and returns the number of lines indexed.
func (ix *Indexer) Index(ctx context.Context, sessionID string, format api.RecordingFormat) (int, error) {
	if !Indexable(format) {
		return 0, nil
	}
	if !ix.claim(sessionID) {
		return 0, nil
	}
	n, err := ix.index(ctx, sessionID, format)
	if err != nil {
		ix.mu.Lock()
		delete(ix.done, sessionID)
		ix.mu.Unlock()
	}
	return n, err
}

func (ix *Indexer) claim(sessionID string) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.done[sessionID] {
		return false
	}
	ix.done[sessionID] = true
	return true
}

// index indexes the output and the typed input lines, in one pass over
// the recording. A recording damaged at its end is indexed up to the
// damage.
func (ix *Indexer) index(ctx context.Context, sessionID string, format api.RecordingFormat) (int, error) {
	rc, err := ix.cfg.Recordings.Open(ctx, sessionID, format)
	if err != nil {
		return 0, fmt.Errorf("open recording: %w", err)
	}
	defer rc.Close()
	batch := make([]store.TextLine, 0, ix.cfg.Batch)
	total := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ix.cfg.Index.IndexRecordingText(ctx, sessionID, batch); err != nil {
			return err
		}
		total += len(batch)
		batch = batch[:0]
		return nil
	}
	var readErr error
	// Binary lines (asciicast.BinaryLine: a program writing random or
	// compressed bytes to the terminal) are left out: no one searches
	// for them and they cost the full-text index far more than text.
	for l, err := range asciicast.AllLines(Inner(rc), true) {
		if err != nil {
			readErr = err
			break
		}
		if strings.TrimSpace(l.Text) == "" {
			continue
		}
		batch = append(batch, store.TextLine{Input: l.Input, At: l.Time, Text: l.Text})
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return total, err
			}
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	if err := flush(); err != nil {
		return total, err
	}
	if readErr != nil && !errors.Is(readErr, asciicast.ErrTruncated) {
		ix.cfg.Logger.Warn("recording text indexed up to a damaged part", "session_id", sessionID, "err", readErr)
	}
	return total, nil
}
