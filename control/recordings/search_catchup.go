package recordings

import (
	"context"
	"fmt"
	"time"

	"github.com/onepam/onepam/control/store"
)

// catchUpPage is how many recordings one query of the catch-up lists.
const catchUpPage = 100

// CatchUpResult counts what one catch-up did.
type CatchUpResult struct {
	Indexed int   // recordings indexed
	Missing int   // recordings whose data is gone (not tried again)
	Failed  int   // attempts that failed (tried again at the next start, up to MaxAttempts)
	GaveUp  int   // recordings given up: control stopped during each of their attempts
	Purged  int64 // lines from before the indexing state (migration 0006) deleted
	// Skipped: another control node holds the catch-up lock (it catches
	// up the same database); nothing was done.
	Skipped bool
}

// Run catches up (CatchUp), then waits for ctx to end and stops the
// indexing started by Start (Close). Control runs it in the background
// from its start, so neither the start nor any request waits for it, and
// search answers from the index as it is meanwhile.
func (ix *Indexer) Run(ctx context.Context) {
	defer ix.Close()
	ix.CatchUp(ctx)
	<-ctx.Done()
}

// CatchUp indexes the final recordings whose text is not indexed: never
// tried (a control stopped before it got to them, or a database from
// before the indexing state), cut short by a control that stopped, or
// failed fewer than MaxAttempts times. It goes from the newest session to
// the oldest, one recording at a time, logging each, and then deletes the
// old lines of the recordings indexed again (lines from before the
// indexing state). A recording whose attempts all ended with control
// stopped is given up (logged), as is one whose data is gone.
//
// With IndexerConfig.CatchUpLock, one control node at a time catches up:
// while another holds the lock, CatchUp does nothing (Skipped).
func (ix *Indexer) CatchUp(ctx context.Context) (CatchUpResult, error) {
	log := ix.cfg.Logger
	start := time.Now()
	var res CatchUpResult
	if ix.cfg.CatchUpLock != nil {
		release, ok, err := ix.cfg.CatchUpLock.TryCatchUpLock(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("search index catch-up: take the lock", "err", err)
			}
			return res, err
		}
		if !ok {
			log.Info("search index catch-up skipped: another control node is catching up")
			res.Skipped = true
			return res, nil
		}
		defer release()
	}
	err := ix.catchUp(ctx, &res)
	if err != nil && ctx.Err() == nil {
		log.Error("search index catch-up", "err", err)
	}
	if err == nil {
		res.Purged, err = ix.cfg.Index.PurgeReplacedText(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("purge replaced recording text", "err", err, "lines", res.Purged)
		}
	}
	if res != (CatchUpResult{}) {
		log.Info("search index caught up", "indexed", res.Indexed, "missing", res.Missing, "failed", res.Failed,
			"gave_up", res.GaveUp, "purged_lines", res.Purged, "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return res, err
}

func (ix *Indexer) catchUp(ctx context.Context, res *CatchUpResult) error {
	q := store.UnindexedQuery{Formats: indexable, MaxAttempts: ix.cfg.MaxAttempts, Limit: catchUpPage}
	for {
		page, err := ix.cfg.Index.UnindexedRecordings(ctx, q)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		for _, r := range page {
			q.Before = r.SessionID
			if err := ctx.Err(); err != nil {
				return err
			}
			if r.Attempts >= ix.cfg.MaxAttempts { // an unfinished attempt: the failed ones are not listed
				reason := fmt.Sprintf("control stopped during each of %d attempts", r.Attempts)
				if err := ix.cfg.Index.FailRecordingText(ctx, r.SessionID, store.TextFailed, reason); err != nil {
					return err
				}
				ix.cfg.Logger.Error("recording text not indexed; giving up", "session_id", r.SessionID, "attempts", r.Attempts, "reason", reason)
				res.GaveUp++
				continue
			}
			if !ix.claim(r.SessionID) {
				continue // being indexed by Start
			}
			out := ix.attempt(ctx, r.SessionID, r.Format)
			out.log(ix.cfg.Logger, "recording text caught up", ix.cfg.MaxAttempts)
			switch {
			case out.indexed:
				res.Indexed++
			case out.err == nil:
			case out.failure == store.TextMissing:
				res.Missing++
			case out.failure == store.TextInterrupted:
				return ctx.Err()
			default:
				res.Failed++
			}
		}
	}
}
