package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Sidecar record kinds.
const (
	kindSynced byte = 's'
	kindFinal  byte = 'f'
	kindCut    byte = 'c'
)

const recordSize = 13

type sideRecord struct {
	kind   byte
	length int64
}

func (r sideRecord) marshal() [recordSize]byte {
	var b [recordSize]byte
	b[0] = r.kind
	binary.BigEndian.PutUint64(b[1:9], uint64(r.length))
	binary.BigEndian.PutUint32(b[9:13], crc32.ChecksumIEEE(b[:9]))
	return b
}

func validKind(k byte) bool { return k == kindSynced || k == kindFinal || k == kindCut }

// parseSidecar returns the valid records of b and the length of the valid
// prefix. Parsing stops at the first short or corrupt record.
func parseSidecar(b []byte) ([]sideRecord, int) {
	var out []sideRecord
	off := 0
	for off+recordSize <= len(b) {
		r := b[off : off+recordSize]
		if binary.BigEndian.Uint32(r[9:13]) != crc32.ChecksumIEEE(r[:9]) || !validKind(r[0]) {
			break
		}
		n := binary.BigEndian.Uint64(r[1:9])
		if n > 1<<62 {
			break
		}
		out = append(out, sideRecord{kind: r[0], length: int64(n)})
		off += recordSize
	}
	return out, off
}

// appendRecord writes one record to the sidecar and syncs it.
func appendRecord(f *os.File, r sideRecord) error {
	b := r.marshal()
	if _, err := f.Write(b[:]); err != nil {
		return fmt.Errorf("write spool sidecar %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync spool sidecar %s: %w", f.Name(), err)
	}
	return nil
}

// readSidecar reads and repairs a sidecar file: a torn or corrupt tail is
// cut. It returns the valid records and whether a tail was cut.
func readSidecar(path string) ([]sideRecord, bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, false, fmt.Errorf("read spool sidecar %s: %w", path, err)
	}
	recs, good := parseSidecar(b)
	if good == len(b) {
		return recs, false, nil
	}
	if err := f.Truncate(int64(good)); err != nil {
		return nil, false, fmt.Errorf("cut torn spool sidecar %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, false, fmt.Errorf("sync spool sidecar %s: %w", path, err)
	}
	return recs, true, nil
}
