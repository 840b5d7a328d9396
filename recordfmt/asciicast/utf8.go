package asciicast

// UTF-8 repair, matching Python's incremental "utf-8" decoder with
// errors="replace" as asciinema's recorder uses it: each maximal subpart of
// an ill-formed sequence (Unicode 15, §3.9, "U+FFFD substitution of maximal
// subparts") becomes one U+FFFD, and a sequence cut off at the end of a read
// is carried to the next read of the same stream.

const replacement = "\uFFFD"

// Results of scanSeq.
const (
	seqValid      = iota // b[:n] is one well-formed character
	seqInvalid           // b[:n] is a maximal ill-formed subpart: one U+FFFD
	seqIncomplete        // b (all of it) is a proper prefix of a character
)

// scanSeq classifies the character starting at b[0] (len(b) > 0).
func scanSeq(b []byte) (n, status int) {
	c := b[0]
	if c < 0x80 {
		return 1, seqValid
	}
	need, lo, hi := 0, byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1, seqInvalid
	}
	for k := 1; k <= need; k++ {
		if k >= len(b) {
			return len(b), seqIncomplete
		}
		if b[k] < lo || b[k] > hi {
			return k, seqInvalid
		}
		lo, hi = 0x80, 0xBF
	}
	return need + 1, seqValid
}

// utf8Stream repairs one byte stream (output or input) read in pieces.
type utf8Stream struct {
	carry [4]byte
	nc    int // bytes in carry: a proper prefix of a character
}

// append appends the repaired form of p to dst. A character cut off at the
// end of p is kept for the next call.
func (s *utf8Stream) append(dst, p []byte) []byte {
	if s.nc > 0 && len(p) > 0 {
		var tmp [8]byte
		k := copy(tmp[:], s.carry[:s.nc])
		k += copy(tmp[k:], p[:min(len(p), 4-s.nc)])
		n, st := scanSeq(tmp[:k])
		switch st {
		case seqValid:
			dst = append(dst, tmp[:n]...)
		case seqInvalid:
			dst = append(dst, replacement...)
		case seqIncomplete:
			s.nc = copy(s.carry[:], tmp[:k])
			return dst
		}
		used := n - s.nc // ≥ 0: the carry was a proper prefix
		s.nc = 0
		p = p[used:]
	}
	run := 0 // start of the pending run of valid bytes
	for i := 0; i < len(p); {
		if p[i] < 0x80 {
			i++
			continue
		}
		n, st := scanSeq(p[i:])
		switch st {
		case seqValid:
			i += n
			continue
		case seqInvalid:
			dst = append(dst, p[run:i]...)
			dst = append(dst, replacement...)
			i += n
			run = i
		case seqIncomplete:
			dst = append(dst, p[run:i]...)
			s.nc = copy(s.carry[:], p[i:])
			return dst
		}
	}
	return append(dst, p[run:]...)
}

// flush appends what remains of a cut-off character (one U+FFFD, as a
// final decode would) and resets the stream.
func (s *utf8Stream) flush(dst []byte) []byte {
	if s.nc == 0 {
		return dst
	}
	s.nc = 0
	return append(dst, replacement...)
}

// validString returns s with ill-formed sequences replaced as above.
func validString(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			var u utf8Stream
			return string(u.flush(u.append(nil, []byte(s))))
		}
	}
	return s
}
