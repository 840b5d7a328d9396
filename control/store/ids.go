package store

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// NewID returns a new UUIDv7 in its canonical lowercase form. Session and
// audit ids are UUIDv7: the first 48 bits are the Unix time in
// milliseconds, so the lexical order of the strings is their time order.
func NewID() string {
	u, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 fails only when the system random source does; an id
		// from IDAt is as good (same time prefix, random tail).
		return IDAt(time.Now())
	}
	return u.String()
}

// IDAt returns a UUIDv7 whose timestamp is t (millisecond precision) and
// whose remaining 74 bits are random. It is for importing or generating
// rows with a given creation time; NewID is for new rows.
func IDAt(t time.Time) string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("store: system random source failed: %v", err))
	}
	putMillis(&b, t)
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // RFC 4122 variant
	return uuid.UUID(b).String()
}

// IDLowerBound returns the smallest id string of the millisecond of t: every
// UUIDv7 created in that millisecond or later compares >= it, and every
// UUIDv7 created earlier compares < it. Stores use it to turn a time range
// into an id range (an index range scan on the primary key order).
func IDLowerBound(t time.Time) string {
	var b [16]byte
	putMillis(&b, t)
	return uuid.UUID(b).String()
}

// IDTime returns the creation time (millisecond precision, UTC) encoded in
// a UUIDv7 id.
func IDTime(id string) (time.Time, error) {
	if err := ValidateID(id); err != nil {
		return time.Time{}, err
	}
	u := uuid.MustParse(id)
	var ms [8]byte
	copy(ms[2:], u[:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(ms[:]))).UTC(), nil
}

// ValidateID checks that id is a UUIDv7 in canonical lowercase form (the
// form whose lexical order is time order). The error wraps ErrInvalid.
func ValidateID(id string) error {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return fmt.Errorf("%w: id %q is not a canonical lowercase UUID", ErrInvalid, id)
	}
	if u.Version() != 7 {
		return fmt.Errorf("%w: id %q is a version %d UUID, want version 7", ErrInvalid, id, u.Version())
	}
	return nil
}

// putMillis writes t's Unix milliseconds, clamped to the 48 bits a UUIDv7
// holds, big-endian into b[0:6].
func putMillis(b *[16]byte, t time.Time) {
	ms := t.UnixMilli()
	if ms < 0 {
		ms = 0
	}
	if ms > 1<<48-1 {
		ms = 1<<48 - 1
	}
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(ms))
	copy(b[:6], buf[2:])
}
