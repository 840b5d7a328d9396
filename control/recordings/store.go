package recordings

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/onepam/onepam/pkg/api"
)

// Store holds recordings. Every method validates the session id (canonical
// lowercase UUID) and the format before touching storage.
type Store interface {
	// WriteAt stores data at offset off of the recording and returns the
	// recording's new size, durably stored when WriteAt returns (so an
	// acknowledgement sent after it never loses data):
	//   - off == size appends;
	//   - off < size replaces everything from off on with data (the
	//     recording becomes off+len(data) bytes): an uploader re-sending
	//     from its last acknowledged offset after a lost ack gets the same
	//     result as the first time;
	//   - off > size fails with ErrGap and changes nothing.
	// final says no data follows (the recording is complete); data may be
	// empty.
	WriteAt(ctx context.Context, sessionID string, format api.RecordingFormat, off int64, data []byte, final bool) (size int64, err error)
	// Size returns the number of bytes stored, 0 for a recording never written.
	Size(ctx context.Context, sessionID string, format api.RecordingFormat) (int64, error)
	// Open returns the recording for reading; ErrNotFound if there is none.
	Open(ctx context.Context, sessionID string, format api.RecordingFormat) (io.ReadCloser, error)
	// Delete removes every recording of a session; no error if there is none.
	Delete(ctx context.Context, sessionID string) error
}

// Errors wrapped by Store implementations.
var (
	ErrNotFound      = errors.New("recording not found")
	ErrGap           = errors.New("recording chunk leaves a gap")
	ErrBadSessionID  = errors.New("bad session id")
	ErrUnknownFormat = errors.New("unknown recording format")
)

var sessionIDPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// CheckSessionID accepts only canonical lowercase UUIDs, so an id can never
// name another path.
func CheckSessionID(id string) error {
	if !sessionIDPattern.MatchString(id) {
		return fmt.Errorf("%w %q: want a lowercase UUID", ErrBadSessionID, id)
	}
	return nil
}

// Ext returns the file extension (with the dot) of a recording format.
func Ext(f api.RecordingFormat) (string, error) {
	switch f {
	case api.FormatConnlog, api.FormatQuerylog:
		return ".jsonl", nil
	case api.FormatAsciicast:
		return ".cast", nil
	case api.FormatHAR:
		return ".har", nil
	case api.FormatDeskproto:
		return ".dpr", nil
	}
	return "", fmt.Errorf("%w %q", ErrUnknownFormat, f)
}
