package store

import "errors"

// ErrInvalid is wrapped by errors about bad arguments given to a Store: a
// malformed pagination cursor, an id that is not a canonical UUIDv7, an
// unknown status or type in a filter, a limit out of range. The API maps it
// to 400 (api.CodeInvalid).
//
// It is declared here rather than in store.go (the shared contract) so that
// implementations and their callers can use it without changing the
// interface.
var ErrInvalid = errors.New("invalid argument")
