package asciicast

import (
	"io"
	"iter"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxLineRunes caps the length of a Line: a longer line is cut into
// several Lines of at most this many characters.
const MaxLineRunes = 4096

// Line is one line of plain text recovered from a recording.
type Line struct {
	Time time.Duration // recording time at which the line's first character appeared
	Text string        // without escape sequences or trailing spaces
}

// Lines returns the plain-text lines of a recording (stored form or
// asciicast v2): of the output, or of the typed input when input is true.
// It is meant for search, not for exact screen reconstruction:
//
//   - escape sequences are removed: CSI (colors, cursor keys, modes such as
//     bracketed paste), OSC (window titles, hyperlinks), DCS, SOS, PM, APC,
//     charset selects and other two- and three-byte ESC sequences;
//   - output: "\n" ends a line; "\r" returns to column 0 and later text
//     overwrites, so a line redrawn after "\r" keeps its last version;
//     backspace moves left; erase-in-line (CSI K) erases; cursor moves to
//     another row (CSI H, f, A, B, d, E, F) and clearing the screen end the
//     current line, so each row a full-screen program draws becomes a line;
//     moves within the row (CSI C, D, G, H on the same row) move the column;
//   - input: Enter ("\r" or "\n"), ^C and ^D end a line; DEL and backspace
//     delete the character before the cursor, ^U the line, ^W the word
//     before it; left/right arrows, Home/End (and ^A/^E) move the cursor
//     and typing inserts;
//   - other control characters are dropped, tabs become spaces, bytes that
//     are not UTF-8 become U+FFFD; blank lines are skipped.
//
// The iterator yields each line with a nil error; a malformed or cut
// recording ends it with one final non-nil error (after the text before the
// damage).
func Lines(src io.Reader, input bool) iter.Seq2[Line, error] {
	return func(yield func(Line, error) bool) {
		scanLines(src, !input, input, false, func(l TextLine, err error) bool { return yield(l.Line, err) })
	}
}

// TextLine is a Line of the output or, with Input, of the typed input.
type TextLine struct {
	Line
	Input bool
}

// AllLines returns the output lines and the typed input lines of a
// recording (each exactly as Lines gives them) in one pass over it, in the
// order they end. Like Lines, a malformed or cut recording ends it with
// one final non-nil error. With skipBinary, binary lines are left out
// (see BinaryLine), at a fraction of the cost of making strings of them:
// what a search index wants.
func AllLines(src io.Reader, skipBinary bool) iter.Seq2[TextLine, error] {
	return func(yield func(TextLine, error) bool) { scanLines(src, true, true, skipBinary, yield) }
}

// BinaryLine reports whether a line is binary rather than text: more than
// one character in eight is U+FFFD (a byte that is not UTF-8), as when a
// program writes compressed or random bytes to the terminal.
func BinaryLine(s string) bool {
	n, bad := 0, 0
	for _, r := range s {
		n++
		if r == utf8.RuneError {
			bad++
		}
	}
	return bad*8 > n
}

// binaryRunes is BinaryLine of a line still held as runes.
func binaryRunes(line []rune) bool {
	bad := 0
	for _, r := range line {
		if r == utf8.RuneError {
			bad++
		}
	}
	return bad*8 > len(line)
}

// scanLines yields the lines of the output (out) and of the input (in).
func scanLines(src io.Reader, out, in, skipBinary bool, yield func(TextLine, error) bool) {
	rs, err := openRecords(src)
	if err != nil {
		yield(TextLine{}, err)
		return
	}
	var states [2]*textState // output, input
	if out {
		states[0] = &textState{skipBinary: skipBinary, emit: func(l Line, err error) bool { return yield(TextLine{Line: l}, err) }}
	}
	if in {
		states[1] = &textState{input: true, skipBinary: skipBinary, emit: func(l Line, err error) bool { return yield(TextLine{Line: l, Input: true}, err) }}
	}
	for {
		rec, err := rs.Next()
		if err != nil {
			for _, t := range states {
				if t != nil && !t.flushLine() {
					return
				}
			}
			if err != io.EOF {
				yield(TextLine{}, err)
			}
			return
		}
		var t *textState
		switch rec.Type {
		case TypeOutput:
			t = states[0]
		case TypeInput:
			t = states[1]
		}
		if t == nil {
			continue
		}
		t.now = rec.Time
		if !t.feed(rec.Data) {
			return
		}
	}
}

// Parser states of textState.
const (
	stGround  = iota
	stEsc     // after ESC
	stEscSkip // ESC + intermediate: skip until a final byte
	stCSI     // ESC [
	stSS3     // ESC O: one more byte
	stString  // OSC, DCS, SOS, PM, APC: until BEL or ST
	stStrEsc  // ESC inside a string (ST is ESC \)
)

// maxSeq caps the bytes of one escape sequence or control string, so that
// a stray ESC [ or ESC ] cannot swallow the rest of a recording.
const maxSeq = 4096

type textState struct {
	input      bool
	skipBinary bool // flushLine drops binary lines (binaryRunes)
	emit       func(Line, error) bool
	now        time.Duration

	line    []rune
	col     int
	hasText bool          // line holds a non-space character
	start   time.Duration // time of the first character of line
	row     int           // last absolute row set by a CSI H/f (1-based), 0 unknown

	state   int
	seqLen  int
	params  []byte // CSI parameter and intermediate bytes
	pending [4]byte
	np      int
}

// feed processes a chunk; false when the consumer stopped.
func (t *textState) feed(p []byte) bool {
	skip := &ignoredOutput
	if t.input {
		skip = &ignoredInput
	}
	for i := 0; i < len(p); i++ {
		b := p[i]
		if t.np == 0 && t.state == stGround {
			switch {
			case skip[b]: // a run of control bytes that do nothing
				for i+1 < len(p) && skip[p[i+1]] {
					i++
				}
				continue
			case b >= 0x80: // a whole character in p: decoded in place
				n, st := scanSeq(p[i:])
				if st == seqIncomplete {
					break // cut by the end of p: collected byte by byte
				}
				r := utf8.RuneError
				if st == seqValid {
					r, _ = utf8.DecodeRune(p[i : i+n])
				}
				if !t.put(r) {
					return false
				}
				i += n - 1
				continue
			case !t.input && b >= 0x20 && b < 0x7f && t.col == len(t.line):
				n, ok := t.appendRun(p[i:])
				if !ok {
					return false
				}
				i += n - 1
				continue
			}
		}
		if t.np > 0 || (b >= 0x80 && t.state == stGround) {
			if !t.utf8Byte(b) {
				return false
			}
			continue
		}
		if !t.byte(b) {
			return false
		}
	}
	return true
}

// ignoredOutput and ignoredInput are the bytes that change nothing in the
// ground state of the output and of the input: control characters ground
// and key drop.
var ignoredOutput, ignoredInput = func() (out, in [256]bool) {
	for b := range 0x20 {
		out[b], in[b] = true, true
	}
	for _, b := range []byte{0x1b, '\n', 0x0b, 0x0c, '\r', '\b', '\t'} {
		out[b] = false
	}
	out[0x7f] = true
	for _, b := range []byte{0x1b, '\r', '\n', 0x03, 0x04, '\b', 0x15, 0x17, 0x01, 0x05, '\t'} {
		in[b] = false
	}
	return out, in
}()

// appendRun is put for a run of printable ASCII written at the end of the
// line (the common case); it returns how many bytes it took (at least 1)
// and false when the consumer stopped.
func (t *textState) appendRun(p []byte) (int, bool) {
	n := 0
	for n < len(p) && p[n] >= 0x20 && p[n] < 0x7f && len(t.line)+n < MaxLineRunes {
		n++
	}
	if n == 0 { // the line is full: let put cut it
		return 1, t.put(rune(p[0]))
	}
	for _, c := range p[:n] {
		if !t.hasText && c != ' ' {
			t.start, t.hasText = t.now, true
		}
		t.line = append(t.line, rune(c))
	}
	t.col = len(t.line)
	return n, true
}

// utf8Byte collects a multi-byte character in the ground state.
func (t *textState) utf8Byte(b byte) bool {
	t.pending[t.np] = b
	t.np++
	for t.np > 0 {
		n, st := scanSeq(t.pending[:t.np])
		switch st {
		case seqIncomplete:
			return true
		case seqValid:
			r, _ := utf8.DecodeRune(t.pending[:n])
			if !t.put(r) {
				return false
			}
		case seqInvalid:
			if !t.put(utf8.RuneError) {
				return false
			}
		}
		// keep the bytes after the character and rescan them
		rest := t.pending[n:t.np]
		t.np = copy(t.pending[:], rest)
		if t.np > 0 && t.pending[0] < 0x80 {
			// an ASCII byte broke the sequence; it is the last byte
			// collected, so pending is empty after it
			t.np = 0
			return t.byte(t.pending[0])
		}
	}
	return true
}

func (t *textState) byte(b byte) bool {
	switch t.state {
	case stGround:
		return t.ground(b)
	case stEsc:
		return t.esc(b)
	case stEscSkip:
		if b >= 0x30 && b <= 0x7e || t.tooLong() {
			t.state = stGround
		}
	case stSS3:
		t.state = stGround
		if t.input { // application cursor keys: ESC O A..D, H, F
			t.params = t.params[:0]
			return t.csi(b)
		}
	case stCSI:
		switch {
		case b >= 0x40 && b <= 0x7e:
			t.state = stGround
			return t.csi(b)
		case b == 0x1b:
			t.state, t.seqLen = stEsc, 0
		case b == 0x18 || b == 0x1a: // CAN, SUB abort
			t.state = stGround
		case t.tooLong():
			t.state = stGround
		default:
			t.params = append(t.params, b)
		}
	case stString:
		switch {
		case b == 0x07:
			t.state = stGround
		case b == 0x1b:
			t.state = stStrEsc
		case b == 0x18 || b == 0x1a || t.tooLong():
			t.state = stGround
		}
	case stStrEsc:
		if b == '\\' {
			t.state = stGround
			return true
		}
		// ESC not followed by "\": the string ended, a new sequence begins
		t.state, t.seqLen = stEsc, 0
		return t.esc(b)
	}
	return true
}

func (t *textState) tooLong() bool {
	t.seqLen++
	return t.seqLen > maxSeq
}

func (t *textState) esc(b byte) bool {
	t.seqLen = 0
	switch {
	case b == '[':
		t.state, t.params = stCSI, t.params[:0]
	case b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_':
		t.state = stString
	case b == 'O':
		t.state = stSS3
	case b >= 0x20 && b <= 0x2f: // ( ) * + - . / # % and other intermediates
		t.state = stEscSkip
	case b == 0x1b:
		t.state = stEsc
	default: // ESC 7, ESC 8, ESC =, ESC M, ESC c, ...
		t.state = stGround
		if b == 'E' && !t.input { // NEL
			t.col = 0
			return t.flushLine()
		}
	}
	return true
}

func (t *textState) ground(b byte) bool {
	if b == 0x1b {
		t.state = stEsc
		return true
	}
	if t.input {
		return t.key(b)
	}
	switch b {
	case '\n', 0x0b, 0x0c:
		if t.row > 0 {
			t.row++
		}
		return t.flushLine()
	case '\r':
		t.col = 0
	case '\b':
		if t.col > 0 {
			t.col--
		}
	case '\t':
		for {
			if !t.put(' ') {
				return false
			}
			if t.col%8 == 0 {
				break
			}
		}
	default:
		if b >= 0x20 && b < 0x7f {
			return t.put(rune(b))
		}
	}
	return true
}

// key handles a typed byte (input mode, ground or SS3 final).
func (t *textState) key(b byte) bool {
	switch b {
	case '\r', '\n', 0x03, 0x04: // Enter, ^C, ^D
		return t.flushLine()
	case 0x7f, '\b':
		if t.col > 0 {
			t.line = append(t.line[:t.col-1], t.line[t.col:]...)
			t.col--
			t.erased()
		}
	case 0x15: // ^U
		t.line = append(t.line[:0], t.line[t.col:]...)
		t.col = 0
		t.erased()
	case 0x17: // ^W
		i := t.col
		for i > 0 && t.line[i-1] == ' ' {
			i--
		}
		for i > 0 && t.line[i-1] != ' ' {
			i--
		}
		t.line = append(t.line[:i], t.line[t.col:]...)
		t.col = i
		t.erased()
	case 0x01: // ^A
		t.col = 0
	case 0x05: // ^E
		t.col = len(t.line)
	case '\t':
		return t.put(' ')
	default:
		if b >= 0x20 && b < 0x7f {
			return t.put(rune(b))
		}
	}
	return true
}

// csi applies a complete CSI sequence with final byte f.
func (t *textState) csi(f byte) bool {
	if len(t.params) > 0 && (t.params[0] == '?' || t.params[0] == '>' || t.params[0] == '=' || t.params[0] == '<') {
		return true // private modes: bracketed paste, cursor visibility, ...
	}
	n1 := t.param(0, 1)
	if t.input {
		switch f {
		case 'D':
			t.col = max(t.col-1, 0)
		case 'C':
			t.col = min(t.col+1, len(t.line))
		case 'H':
			t.col = 0
		case 'F':
			t.col = len(t.line)
		case '~':
			switch t.param(0, 0) {
			case 3: // Delete
				if t.col < len(t.line) {
					t.line = append(t.line[:t.col], t.line[t.col+1:]...)
					t.erased()
				}
			case 1, 7:
				t.col = 0
			case 4, 8:
				t.col = len(t.line)
			}
		}
		return true
	}
	switch f {
	case 'K': // erase in line
		switch t.param(0, 0) {
		case 0:
			if t.col < len(t.line) {
				t.line = t.line[:t.col]
			}
		case 1:
			for i := 0; i <= t.col && i < len(t.line); i++ {
				t.line[i] = ' '
			}
		case 2:
			t.line = t.line[:0]
		}
		t.erased()
	case 'C':
		t.col += min(n1, MaxLineRunes)
	case 'D':
		t.col = max(t.col-n1, 0)
	case 'G', '`':
		t.col = min(n1, MaxLineRunes) - 1
	case 'H', 'f':
		row, col := t.param(0, 1), min(t.param(1, 1), MaxLineRunes)-1
		if row != t.row || t.row == 0 {
			if !t.flushLine() {
				return false
			}
		}
		t.row, t.col = row, col
	case 'A', 'B', 'd', 'E', 'F':
		if !t.flushLine() {
			return false
		}
		t.row = 0
		if f == 'E' || f == 'F' {
			t.col = 0
		}
	case 'J':
		if t.param(0, 0) >= 1 {
			if !t.flushLine() {
				return false
			}
			t.row = 0
		} else if t.col < len(t.line) {
			t.line = t.line[:t.col]
			t.erased()
		}
	}
	return true
}

// erased recomputes hasText after part of the line was erased.
func (t *textState) erased() {
	t.hasText = false
	for _, r := range t.line {
		if r != ' ' {
			t.hasText = true
			return
		}
	}
}

// param returns the i-th numeric CSI parameter, def when absent or 0
// (def 0: absent only).
func (t *textState) param(i, def int) int {
	s := string(t.params)
	for k := 0; k < i; k++ {
		_, rest, ok := strings.Cut(s, ";")
		if !ok {
			return def
		}
		s = rest
	}
	if j := strings.IndexByte(s, ';'); j >= 0 {
		s = s[:j]
	}
	n, seen := 0, false
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			break
		}
		seen = true
		if n < 1<<20 {
			n = n*10 + int(c-'0')
		}
	}
	if !seen || n == 0 && def > 0 {
		return def
	}
	return n
}

// put writes r at the cursor: overwriting in output, inserting in input.
func (t *textState) put(r rune) bool {
	if t.col >= MaxLineRunes {
		if !t.flushLine() {
			return false
		}
		t.col = 0
	}
	if !t.hasText && r != ' ' {
		t.start, t.hasText = t.now, true
	}
	for len(t.line) < t.col {
		t.line = append(t.line, ' ')
	}
	switch {
	case t.col == len(t.line):
		t.line = append(t.line, r)
	case t.input:
		t.line = append(t.line[:t.col+1], t.line[t.col:]...)
		t.line[t.col] = r
	default:
		t.line[t.col] = r
	}
	t.col++
	return true
}

// flushLine emits the current line unless it is blank; false when the
// consumer stopped.
func (t *textState) flushLine() bool {
	if !t.hasText { // only spaces: nothing to convert
		t.line, t.col = t.line[:0], 0
		return true
	}
	end := len(t.line)
	for end > 0 && t.line[end-1] == ' ' {
		end--
	}
	if t.skipBinary && binaryRunes(t.line[:end]) {
		t.line, t.col, t.hasText = t.line[:0], 0, false
		return true
	}
	s := string(t.line[:end])
	t.line, t.col, t.hasText = t.line[:0], 0, false
	if strings.TrimSpace(s) == "" {
		return true
	}
	return t.emit(Line{Time: t.start, Text: s}, nil)
}
