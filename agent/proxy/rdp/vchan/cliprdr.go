package vchan

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Clipboard messages (MS-RDPECLIP 2.2.1): every message starts with
//
//	msgType  u16   one of the cb* constants
//	msgFlags u16   CB_RESPONSE_OK 0x1, CB_RESPONSE_FAIL 0x2, CB_ASCII_NAMES 0x4
//	dataLen  u32   length of what follows
const (
	cbMonitorReady       = 0x0001
	cbFormatList         = 0x0002
	cbFormatListResponse = 0x0003
	cbFormatDataRequest  = 0x0004
	cbFormatDataResponse = 0x0005
	cbTempDirectory      = 0x0006
	cbClipCaps           = 0x0007
	cbFileContentsReq    = 0x0008
	cbFileContentsResp   = 0x0009
	cbLockClipdata       = 0x000A
	cbUnlockClipdata     = 0x000B

	cbResponseOK  = 0x0001
	cbAsciiNames  = 0x0004
	cbLongFormats = 0x0002 // CB_USE_LONG_FORMAT_NAMES in the general capability's flags

	fileContentsRange = 0x0002 // FILECONTENTS_RANGE in a File Contents Request

	// FILEDESCRIPTORW (MS-RDPECLIP 2.2.5.2.3.1): flags u32, reserved1
	// [32], fileAttributes u32, reserved2 [16], lastWriteTime u64,
	// fileSizeHigh u32, fileSizeLow u32, fileName [260]WCHAR.
	fileDescriptorSize = 592
	fdSizeHigh         = 64
	fdSizeLow          = 68
	fdName             = 72
)

// Standard clipboard formats (Windows' predefined ids), named when a
// Format List gives them no name.
var standardFormats = map[uint32]string{
	1: "CF_TEXT", 2: "CF_BITMAP", 3: "CF_METAFILEPICT", 7: "CF_OEMTEXT", 8: "CF_DIB",
	13: "CF_UNICODETEXT", 14: "CF_ENHMETAFILE", 15: "CF_HDROP", 16: "CF_LOCALE", 17: "CF_DIBV5",
}

// clipFile is one file of a FileGroupDescriptorW list, whose contents
// the other side may then pull with File Contents Requests.
type clipFile struct {
	name     string
	size     int64
	got      int64
	reported bool
}

// clipboard tracks one connection's clipboard channel. Arrays indexed
// by Dir hold what the side sending in that direction announced.
type clipboard struct {
	cfg       Config
	longFlags [2]bool              // CB_USE_LONG_FORMAT_NAMES in each side's capabilities
	formats   [2]map[uint32]string // each side's latest Format List
	want      [2]uint32            // format requested from the side answering in Dir
	wantSet   [2]bool
	files     [2][]clipFile        // each side's latest file list
	streams   [2]map[uint32]uint32 // stream id → file index, for responses in Dir
}

func newClipboard(cfg Config) *clipboard {
	c := &clipboard{cfg: cfg}
	for i := range 2 {
		c.formats[i] = map[uint32]string{}
		c.streams[i] = map[uint32]uint32{}
	}
	return c
}

func (c *clipboard) message(dir Dir, m Message, emit func(Event)) error {
	b := m.Data
	if len(b) < 8 {
		return malformed("clipboard message of %d bytes", len(b))
	}
	typ, flags, n := binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), int(binary.LittleEndian.Uint32(b[4:]))
	if n > m.Total-8 {
		return malformed("clipboard message type %d says %d bytes of data and carries %d", typ, n, m.Total-8)
	}
	body := b[8:min(len(b), 8+n)]
	d := dir & 1
	switch typ {
	case cbClipCaps:
		return c.caps(d, body)
	case cbFormatList:
		if m.Truncated() {
			return malformed("format list of %d bytes", m.Total)
		}
		f, err := parseFormatList(body, flags, c.longFlags[0] && c.longFlags[1])
		if err != nil {
			return err
		}
		c.formats[d] = f
	case cbFormatDataRequest:
		if len(body) < 4 {
			return malformed("format data request of %d bytes", len(body))
		}
		c.want[d^1], c.wantSet[d^1] = binary.LittleEndian.Uint32(body), true
	case cbFormatDataResponse:
		if !c.wantSet[d] {
			return malformed("format data response %s without a request", d)
		}
		c.wantSet[d] = false
		if flags&cbResponseOK == 0 {
			return nil
		}
		return c.data(d, c.want[d], body, int64(n), m.Truncated(), emit)
	case cbFileContentsReq:
		if len(body) < 24 {
			return malformed("file contents request of %d bytes", len(body))
		}
		if binary.LittleEndian.Uint32(body[8:])&fileContentsRange != 0 {
			c.streams[d^1][binary.LittleEndian.Uint32(body)] = binary.LittleEndian.Uint32(body[4:])
		}
	case cbFileContentsResp:
		if len(body) < 4 {
			return malformed("file contents response of %d bytes", len(body))
		}
		stream := binary.LittleEndian.Uint32(body)
		idx, ok := c.streams[d][stream]
		if !ok || flags&cbResponseOK == 0 {
			return nil // a size request, or a failure
		}
		delete(c.streams[d], stream)
		if int(idx) < len(c.files[d]) {
			f := &c.files[d][idx]
			f.got += int64(n - 4)
			if f.got >= f.size && !f.reported {
				f.reported = true
				emit(c.fileEvent(d, f))
			}
		}
	case cbMonitorReady, cbFormatListResponse, cbTempDirectory, cbLockClipdata, cbUnlockClipdata:
	default:
		return malformed("clipboard message type %d", typ)
	}
	return nil
}

// caps reads a Clipboard Capabilities PDU: cCapabilitiesSets u16, pad
// u16, then sets of capabilitySetType u16, lengthCapability u16 and,
// for the general set (type 1), version u32 and generalFlags u32.
func (c *clipboard) caps(d Dir, b []byte) error {
	if len(b) < 4 {
		return malformed("clipboard capabilities of %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint16(b))
	b = b[4:]
	for range n {
		if len(b) < 4 {
			return malformed("truncated clipboard capability set")
		}
		typ, l := binary.LittleEndian.Uint16(b), int(binary.LittleEndian.Uint16(b[2:]))
		if l < 4 || l > len(b) {
			return malformed("clipboard capability set of %d bytes", l)
		}
		if typ == 1 && l >= 12 {
			c.longFlags[d] = binary.LittleEndian.Uint32(b[8:])&cbLongFormats != 0
		}
		b = b[l:]
	}
	return nil
}

// parseFormatList reads a Format List: long format names (formatId
// u32, NUL-terminated UTF-16 name) when both sides announced
// CB_USE_LONG_FORMAT_NAMES, else short ones (formatId u32, a 32-byte
// name, ASCII with CB_ASCII_NAMES, else UTF-16).
func parseFormatList(b []byte, flags uint16, long bool) (map[uint32]string, error) {
	out := map[uint32]string{}
	if !long {
		if len(b)%36 != 0 {
			return nil, malformed("short format list of %d bytes", len(b))
		}
		for ; len(b) > 0; b = b[36:] {
			name := b[4:36]
			if flags&cbAsciiNames != 0 {
				out[binary.LittleEndian.Uint32(b)] = cString(name)
			} else {
				out[binary.LittleEndian.Uint32(b)] = utf16String(name)
			}
		}
		return out, nil
	}
	for len(b) > 0 {
		if len(b) < 6 {
			return nil, malformed("truncated long format name")
		}
		id := binary.LittleEndian.Uint32(b)
		b = b[4:]
		end := -1
		for i := 0; i+1 < len(b); i += 2 {
			if b[i] == 0 && b[i+1] == 0 {
				end = i
				break
			}
		}
		if end < 0 {
			return nil, malformed("long format name without its terminating NUL")
		}
		out[id] = utf16String(b[:end])
		b = b[end+2:]
	}
	return out, nil
}

// formatName names format id as announced by the side sending in d.
func (c *clipboard) formatName(d Dir, id uint32) string {
	if n := c.formats[d][id]; n != "" {
		return n
	}
	if n := standardFormats[id]; n != "" {
		return n
	}
	return fmt.Sprintf("format %d", id)
}

// data reports one Format Data Response: its format, size and, for
// text, the start of the text; a file list replaces the side's list.
func (c *clipboard) data(d Dir, id uint32, b []byte, size int64, truncated bool, emit func(Event)) error {
	name := c.formatName(d, id)
	ev := Event{Channel: Clipboard, Dir: d, Op: fileOp(d), Path: name, Bytes: size, Clip: true}
	switch {
	case id == 13 || strings.EqualFold(name, "CF_UNICODETEXT"):
		ev.Text = capText(utf16String(b), c.cfg.TextMax)
	case id == 1 || id == 7 || isTextFormat(name):
		ev.Text = capText(latin1OrUTF8(cString(b)), c.cfg.TextMax)
	case strings.EqualFold(name, "FileGroupDescriptorW"):
		if truncated {
			return malformed("file list of %d bytes", size)
		}
		files, err := parseFileList(b)
		if err != nil {
			return err
		}
		c.files[d] = files
		var names []string
		for _, f := range files {
			names = append(names, f.name)
		}
		ev.Text = capText(strings.Join(names, "\n"), c.cfg.TextMax)
	}
	emit(ev)
	return nil
}

// isTextFormat reports registered formats that hold UTF-8 text.
func isTextFormat(name string) bool {
	n := strings.ToLower(name)
	return n == "utf8_string" || n == "text" || n == "html format" || n == "rich text format" || strings.HasPrefix(n, "text/")
}

// parseFileList reads a CLIPRDR_FILELIST: cItems u32, then cItems
// FILEDESCRIPTORW.
func parseFileList(b []byte) ([]clipFile, error) {
	if len(b) < 4 {
		return nil, malformed("file list of %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if n > len(b)/fileDescriptorSize {
		return nil, malformed("file list of %d files in %d bytes", n, len(b))
	}
	out := make([]clipFile, n)
	for i := range out {
		fd := b[i*fileDescriptorSize : (i+1)*fileDescriptorSize]
		out[i] = clipFile{
			name: utf16String(fd[fdName:]),
			size: int64(binary.LittleEndian.Uint32(fd[fdSizeHigh:]))<<32 | int64(binary.LittleEndian.Uint32(fd[fdSizeLow:])),
		}
	}
	return out, nil
}

func (c *clipboard) fileEvent(d Dir, f *clipFile) Event {
	return Event{Channel: Clipboard, Dir: d, Op: fileOp(d), Path: f.name, Bytes: f.got}
}

// flush reports clipboard files partly copied.
func (c *clipboard) flush(emit func(Event)) {
	for d := range c.files {
		for i := range c.files[d] {
			if f := &c.files[d][i]; f.got > 0 && !f.reported {
				f.reported = true
				emit(c.fileEvent(Dir(d), f))
			}
		}
	}
}

// fileOp is the file operation of data going dir.
func fileOp(d Dir) string {
	if d == ToServer {
		return "upload"
	}
	return "download"
}

// utf16String decodes UTF-16LE up to the first NUL.
func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// latin1OrUTF8 keeps valid UTF-8 and reads anything else as Latin-1.
func latin1OrUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// capText returns at most max bytes of s, cut at a character boundary.
func capText(s string, max int) []byte {
	if len(s) > max {
		n := max
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return []byte(s)
}
