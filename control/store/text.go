package store

import "github.com/onepam/onepam/pkg/api"

// The types of this file serve the indexing of recording text for search
// in steps that survive a control stopped half-way (see
// control/recordings.Indexer): an attempt begins, adds lines in batches,
// and finishes with its last lines and the mark "indexed" in one
// transaction. Only a finished recording's lines are searchable, and a
// new attempt first deletes what an unfinished one left.

// TextIndexing is one attempt at indexing a recording's text, from its
// BeginRecordingText to its FinishRecordingText or FailRecordingText.
type TextIndexing struct {
	SessionID string
	Num       int64 // the recording's number in the index
	Attempt   int   // 1 for the first attempt
	Lines     int64 // lines added by this attempt so far
}

// TextFailure says how an attempt at indexing a recording's text ended
// without finishing.
type TextFailure int

const (
	// TextFailed: an error; the recording is tried again at later starts
	// of control, up to a limit of attempts.
	TextFailed TextFailure = iota
	// TextMissing: the recording's data is gone (expired, deleted); it is
	// not tried again unless its final chunk arrives again.
	TextMissing
	// TextInterrupted: control was shutting down; the attempt does not
	// count against the limit.
	TextInterrupted
)

// UnindexedQuery selects final recordings whose text is not indexed:
// never tried, cut short by a control that stopped, or failed fewer than
// MaxAttempts times. Pages go from the newest session to the oldest.
type UnindexedQuery struct {
	Formats     []api.RecordingFormat // formats that have text (required)
	Before      string                // only sessions with ids below this ("" = from the newest)
	MaxAttempts int                   // failed recordings with this many attempts are left out
	Limit       int                   // 1..1000; 0 = 100
}

// UnindexedRecording is a final recording whose text is not indexed.
type UnindexedRecording struct {
	SessionID string
	Format    api.RecordingFormat
	// Attempts is the number of attempts begun so far; Interrupted is
	// true when the last one never finished (control stopped during it).
	Attempts    int
	Interrupted bool
}
