package container

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// problem kinds found by walk.
const (
	walkOK       = iota // the walk reached a valid trailer ending the file
	walkCut             // the file ends (cleanly or with a torn frame) without a trailer
	walkTampered        // something does not match
)

// walkResult is what a sequential pass over a whole container found.
type walkResult struct {
	kind      int
	hdr       parsedHeader
	hdrOK     bool        // the file header is complete and valid
	frames    []FrameInfo // data frames that match the chain, in order
	end       int64       // end of the last good frame (or header); the trailer end when kind is walkOK
	head      [32]byte    // chain hash of the last good data frame
	trailer   *Trailer
	trailerAt bool  // the problem is in a trailer frame
	torn      int64 // bytes of a torn frame after end (walkCut)

	// where the problem is (walkTampered)
	frame  int   // frame number; -1 for the file header
	offset int64 // file offset of the altered part
	at     time.Duration
	what   string
}

func (w *walkResult) tamper(frame int, off int64, at time.Duration, format string, args ...any) {
	w.kind, w.frame, w.offset, w.at, w.what = walkTampered, frame, off, at, fmt.Sprintf(format, args...)
}

// allZero reports whether the rest of the stream holds only zero bytes (a
// torn write on a file system that extended the file before writing it).
func allZero(br *bufio.Reader, first []byte) (bool, error) {
	for _, c := range first {
		if c != 0 {
			return false, nil
		}
	}
	var buf [32 << 10]byte
	for {
		n, err := br.Read(buf[:])
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// walk reads the whole container in order, recomputing the hash chain, and
// stops at the first problem. It returns an error only for read failures.
func walk(r io.ReaderAt, size int64) (walkResult, error) {
	res := walkResult{kind: walkCut, frame: -1}
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), int(min(max(size, 16), 1<<20)))
	readN := func(b []byte) error {
		if _, err := io.ReadFull(br, b); err != nil {
			return fmt.Errorf("container: read: %w", err)
		}
		return nil
	}

	// File header.
	var fixed [fileHeaderFixed]byte
	if size < fileHeaderFixed {
		b := make([]byte, size)
		if err := readN(b); err != nil {
			return res, err
		}
		prefix := append([]byte(Magic), Version)
		if !bytes.HasPrefix(prefix, b[:min(len(b), len(prefix))]) {
			res.tamper(-1, 0, 0, "is not a recording container header")
		}
		res.torn = size
		return res, nil
	}
	if err := readN(fixed[:]); err != nil {
		return res, err
	}
	n, err := fileHeaderLen(fixed[:])
	if err != nil {
		res.tamper(-1, 0, 0, "was altered: %v", err)
		return res, nil
	}
	if int64(n) > size {
		// Either a torn header (the first write was cut) or an altered
		// length field: a complete header with a valid checksum at some
		// other length says which.
		if at, err := headerCRCAt(r, size, fixed[:]); err != nil {
			return res, err
		} else if at > 0 {
			res.tamper(-1, 6, 0, "has an altered length field (says %d bytes of JSON, the checksum matches %d)", n-fileHeaderFixed-4, at-fileHeaderFixed)
			return res, nil
		}
		res.torn = size
		return res, nil
	}
	hb := make([]byte, n)
	copy(hb, fixed[:])
	if err := readN(hb[fileHeaderFixed:]); err != nil {
		return res, err
	}
	res.hdr, err = parseFileHeader(hb)
	if err != nil {
		res.tamper(-1, 0, 0, "was altered: %v", err)
		return res, nil
	}
	res.hdrOK, res.end, res.head = true, int64(n), res.hdr.digest

	// Frames.
	sha := newChainer()
	var fh [FrameHeaderSize]byte
	var payload []byte
	var rawOff int64
	var lastT time.Duration
	for i := 0; ; i++ {
		off := res.end
		rem := size - off
		if rem == 0 {
			return res, nil
		}
		if rem < FrameHeaderSize {
			res.torn = rem
			return res, nil
		}
		if err := readN(fh[:]); err != nil {
			return res, err
		}
		h, err := parseFrameHeader(fh[:])
		res.trailerAt = fh[0] == typeTrailer
		if errors.Is(err, errHeaderCRC) {
			zero, zerr := allZero(br, fh[:])
			if zerr != nil {
				return res, zerr
			}
			if zero {
				res.torn = rem
				return res, nil
			}
			res.tamper(i, off, lastT, "has an altered frame header (checksum mismatch)")
			return res, nil
		}
		if err != nil {
			res.tamper(i, off, lastT, "has a malformed frame header: %v", err)
			return res, nil
		}
		at := dur(h.tFirst)
		if h.typ == typeTrailer {
			at = dur(h.tLast)
		}
		if int(h.num) != i {
			res.tamper(i, off, lastT, "holds frame number %d: frames were deleted, duplicated or reordered", h.num)
			return res, nil
		}
		total := int64(FrameHeaderSize) + int64(h.compLen)
		if h.typ == typeTrailer {
			total += trailerTail
		}
		if total > rem {
			res.torn = rem
			return res, nil
		}
		if h.typ == typeData && at < lastT {
			res.tamper(i, off, at, "starts at session time %s, before the previous frame ends (%s)", clock(at), clock(lastT))
			return res, nil
		}
		if cap(payload) < int(total)-FrameHeaderSize {
			payload = make([]byte, int(total)-FrameHeaderSize)
		}
		payload = payload[:total-FrameHeaderSize]
		if err := readN(payload); err != nil {
			return res, err
		}
		if sha.next(&res.head, fh[:], payload[:h.compLen]) != h.hash {
			if i == 0 {
				res.tamper(i, off, at, "does not match the hash chain: altered (it or the file header)")
			} else {
				res.tamper(i, off, at, "does not match the hash chain: altered")
			}
			return res, nil
		}
		if h.typ == typeTrailer {
			t, err := decodeTrailer(h, off, payload)
			if err != nil {
				res.tamper(i, off, at, "is malformed: %v", err)
				return res, nil
			}
			res.trailer = t
			checkTrailer(&res, t, rawOff, i, off, at)
			if res.kind == walkTampered {
				return res, nil
			}
			if after := rem - total; after > 0 {
				res.tamper(i, off+total, dur(h.tLast), "is followed by %d extra bytes", after)
				return res, nil
			}
			res.kind, res.end = walkOK, off+total
			return res, nil
		}
		res.frames = append(res.frames, FrameInfo{Number: i, Offset: off, TFirst: at, TLast: dur(h.tLast),
			RawOffset: rawOff, RawLen: int(h.rawLen), CompLen: int(h.compLen)})
		res.head, res.end, lastT = h.hash, off+total, dur(h.tLast)
		rawOff += int64(h.rawLen)
	}
}

// checkTrailer compares a chain-valid trailer with the frames before it.
func checkTrailer(res *walkResult, t *Trailer, rawOff int64, i int, off int64, at time.Duration) {
	switch {
	case t.HeaderDigest != res.hdr.digest:
		res.tamper(i, off, at, "holds a header digest that does not match the file header")
	case t.ChainHead != res.head:
		res.tamper(i, off, at, "holds a chain head that does not match the last frame")
	case t.RawSize != rawOff:
		res.tamper(i, off, at, "counts %d raw bytes, the frames hold %d", t.RawSize, rawOff)
	case len(t.Index) != 0 && len(t.Index) != len(res.frames):
		res.tamper(i, off, at, "holds %d index entries for %d frames", len(t.Index), len(res.frames))
	default:
		for k, e := range t.Index {
			f := res.frames[k]
			if e.Offset != f.Offset || e.TFirst != f.TFirst || e.TLast != f.TLast || e.RawOffset != f.RawOffset {
				res.tamper(i, off, at, "holds index entry %d that does not match frame %d", k, k)
				return
			}
		}
	}
}

// clock formats a session time as HH:MM:SS.
func clock(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

// headerSearch bounds headerCRCAt, which is quadratic in it: headers that
// writers produce are a few hundred bytes.
const headerSearch = 8 << 10

// headerCRCAt looks for a JSON length L (2..headerSearch) at which the file
// holds a complete header whose CRC-32C matches when its length field says
// L, and returns the header's length without the CRC (10+L), or 0 when
// there is none.
func headerCRCAt(r io.ReaderAt, size int64, fixed []byte) (int, error) {
	limit := min(size, fileHeaderFixed+headerSearch+4)
	b := make([]byte, limit)
	if err := readFull(r, b, 0); err != nil {
		return 0, err
	}
	var lenField [4]byte
	for end := fileHeaderFixed + 2; end+4 <= len(b); end++ {
		if b[end-1] != '}' {
			continue
		}
		binary.BigEndian.PutUint32(lenField[:], uint32(end-fileHeaderFixed))
		crc := crc32.Update(0, castagnoli, fixed[:6])
		crc = crc32.Update(crc, castagnoli, lenField[:])
		crc = crc32.Update(crc, castagnoli, b[fileHeaderFixed:end])
		if binary.BigEndian.Uint32(b[end:]) == crc {
			return end, nil
		}
	}
	return 0, nil
}
