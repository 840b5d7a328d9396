package container

import (
	"fmt"
	"io"
)

// TruncateTorn returns how many leading bytes of a container to keep so
// that it ends with a complete frame: the file header and every frame
// (trailer included) that is complete and matches the hash chain, up to
// the first that is torn, zero-filled or damaged. The spool cuts its file
// to that size after a crash. A file too short to hold its file header
// gives 0. The error is for read failures and for a file whose complete
// file header is not a container's (nothing can be kept safely).
func TruncateTorn(r io.ReaderAt, size int64) (keep int64, err error) {
	res, err := walk(r, size)
	if err != nil {
		return 0, err
	}
	if !res.hdrOK {
		if res.kind == walkTampered {
			return 0, fmt.Errorf("%w: file header %s", ErrMalformed, res.what)
		}
		return 0, nil
	}
	return res.end, nil
}
