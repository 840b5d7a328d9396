package ssh

import (
	"bytes"
	"path"
	"strconv"
	"strings"

	"github.com/onepam/onepam/pkg/api"
)

// Legacy scp (`scp -O`, the SCP/RCP protocol) runs as an exec of
// `scp -t PATH` (the person uploads: the target is the sink) or
// `scp -f PATH` (the person downloads: the target is the source). The
// proxy passes it through unchanged and parses the source's side of the
// stream to report each file:
//
//	C<mode> <size> <name>\n   a file; <size> bytes follow, then one status byte
//	D<mode> 0 <name>\n        enter a directory (scp -r)
//	E\n                       leave it
//	T<mtime> 0 <atime> 0\n    times of the next file (scp -p)
//	\x01<message>\n           a warning (e.g. a file that cannot be read)
//	\x02<message>\n           a fatal error
//
// The status byte after the data is 0 when the source read the file
// completely, or 1/2 followed by a message line. Sink-side failures (the
// sink's acks) are not parsed: such an upload is reported as sent.

// scpCommand is a parsed scp exec.
type scpCommand struct {
	sink      bool // -t: the person uploads
	path      string
	dirTarget bool // -d: the target must be a directory
	recursive bool // -r
}

// parseSCPCommand recognises `scp [flags] -t|-f [--] PATH`; nil when the
// command is not a legacy scp transfer.
func parseSCPCommand(cmd string) *scpCommand {
	words, ok := shellWords(cmd)
	if !ok || len(words) < 2 {
		return nil
	}
	if words[0] != "scp" && !strings.HasSuffix(words[0], "/scp") {
		return nil
	}
	var c scpCommand
	var to, from bool
	i := 1
	for ; i < len(words); i++ {
		w := words[i]
		if w == "--" {
			i++
			break
		}
		if !strings.HasPrefix(w, "-") || w == "-" {
			break
		}
		for _, f := range w[1:] {
			switch f {
			case 't':
				to = true
			case 'f':
				from = true
			case 'd':
				c.dirTarget = true
			case 'r':
				c.recursive = true
			}
		}
	}
	if to == from || i != len(words)-1 {
		return nil
	}
	c.sink, c.path = to, words[i]
	return &c
}

// shellWords splits a command line as a POSIX shell would for plain words
// with quotes and backslashes (glob characters are kept: the reported path
// of a downloaded file is its directory and name); ok is false for
// anything fancier.
func shellWords(s string) (words []string, ok bool) {
	var cur strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, false
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, false
			}
			in = true
		case ch == '\\':
			if i+1 >= len(s) {
				return nil, false
			}
			i++
			cur.WriteByte(s[i])
			in = true
		case strings.IndexByte(";&|<>`$(){}\n", ch) >= 0:
			return nil, false
		default:
			cur.WriteByte(ch)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, true
}

// scpTransfer watches one scp exec and reports its files.
type scpTransfer struct {
	cmd    *scpCommand
	p      scpParser
	report func(api.FileEvent)
}

func newSCPTransfer(cmd *scpCommand, report func(api.FileEvent)) *scpTransfer {
	t := &scpTransfer{cmd: cmd, report: report}
	t.p.onFile = t.file
	return t
}

// fromTarget sees bytes the target sends (the data of a download).
func (t *scpTransfer) fromTarget(b []byte) {
	if !t.cmd.sink {
		t.p.feed(b)
	}
}

// toTarget sees bytes the person sends (the data of an upload).
func (t *scpTransfer) toTarget(b []byte) {
	if t.cmd.sink {
		t.p.feed(b)
	}
}

// finish reports a file cut short by the end of the exec.
func (t *scpTransfer) finish(int) { t.p.end() }

func (t *scpTransfer) file(f scpFile) {
	op := api.FileOpDownload
	if t.cmd.sink {
		op = api.FileOpUpload
	}
	ev := api.FileEvent{Protocol: "scp", Op: op, Path: t.resolve(f), Bytes: f.bytes, Result: "ok"}
	if f.err != "" {
		ev.Result, ev.Error = "error", f.err
	}
	t.report(ev)
}

// resolve turns a file's name and directory stack into its path on the
// target (see the package comment on scp).
func (t *scpTransfer) resolve(f scpFile) string {
	base := t.cmd.path
	if f.name == "" { // a source error about the whole command
		return base
	}
	if !t.cmd.sink {
		if len(f.dirs) == 0 && path.Base(base) == f.name {
			return base
		}
		return path.Join(append([]string{path.Dir(base)}, append(f.dirs, f.name)...)...)
	}
	if len(f.dirs) == 0 && !t.cmd.dirTarget && base != "." && base != "" && base != "~" && !strings.HasSuffix(base, "/") {
		return base // scp FILE host:NEWNAME
	}
	return path.Join(append([]string{base}, append(f.dirs, f.name)...)...)
}

// scpFile is one file seen in the stream (or a source error, name "").
type scpFile struct {
	dirs  []string
	name  string
	bytes int64
	err   string
}

// Parser states.
const (
	scpRecord    = iota // reading a record line
	scpData             // reading file bytes
	scpStatus           // reading the status byte after the data
	scpStatusMsg        // reading the message line of a failed status
	scpDead             // not the scp protocol: stop parsing
)

// Limits that keep hostile streams cheap.
const (
	scpMaxLine  = 8 << 10
	scpMaxDepth = 256
)

// scpParser parses the source side of an scp stream, fed in chunks of
// any size. It never fails: bytes that are not the protocol stop it.
type scpParser struct {
	state     int
	line      []byte
	dirs      []string
	name      string
	size      int64
	remaining int64
	onFile    func(scpFile)
}

func (p *scpParser) emit(name string, n int64, err string) {
	if p.onFile != nil {
		p.onFile(scpFile{dirs: append([]string(nil), p.dirs...), name: name, bytes: n, err: err})
	}
}

// feed parses the next bytes of the stream.
func (p *scpParser) feed(b []byte) {
	for len(b) > 0 {
		switch p.state {
		case scpDead:
			return
		case scpData:
			n := int64(len(b))
			if n > p.remaining {
				n = p.remaining
			}
			p.remaining -= n
			b = b[n:]
			if p.remaining == 0 {
				p.state = scpStatus
			}
		case scpStatus:
			if b[0] == 0 {
				p.emit(p.name, p.size, "")
				p.state = scpRecord
			} else {
				p.state = scpStatusMsg
			}
			b = b[1:]
		case scpRecord, scpStatusMsg:
			i := bytes.IndexByte(b, '\n')
			take := b
			if i >= 0 {
				take = b[:i]
			}
			if len(p.line)+len(take) > scpMaxLine {
				p.state = scpDead
				return
			}
			p.line = append(p.line, take...)
			if i < 0 {
				return
			}
			b = b[i+1:]
			line := string(p.line)
			p.line = p.line[:0]
			if p.state == scpStatusMsg {
				p.emit(p.name, p.size, strings.TrimSpace(line))
				p.state = scpRecord
				continue
			}
			p.record(line)
		}
	}
}

// record handles one complete record line.
func (p *scpParser) record(line string) {
	if line == "" {
		p.state = scpDead
		return
	}
	switch line[0] {
	case 0: // a stray ack before the record
		p.record(line[1:])
	case 'C':
		mode, size, name, ok := scpHeader(line[1:])
		if !ok || mode == "" {
			p.state = scpDead
			return
		}
		p.name, p.size, p.remaining = name, size, size
		p.state = scpData
		if size == 0 {
			p.state = scpStatus
		}
	case 'D':
		_, _, name, ok := scpHeader(line[1:])
		if !ok || len(p.dirs) >= scpMaxDepth {
			p.state = scpDead
			return
		}
		p.dirs = append(p.dirs, name)
	case 'E':
		if len(p.dirs) > 0 {
			p.dirs = p.dirs[:len(p.dirs)-1]
		}
	case 'T':
	case 1, 2:
		p.emit("", 0, strings.TrimSpace(line[1:]))
		if line[0] == 2 {
			p.state = scpDead
		}
	default:
		p.state = scpDead
	}
}

// scpHeader parses "<mode> <size> <name>" of C and D records.
func scpHeader(s string) (mode string, size int64, name string, ok bool) {
	mode, rest, ok1 := strings.Cut(s, " ")
	sz, name, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || len(mode) != 4 || name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return "", 0, "", false
	}
	if _, err := strconv.ParseUint(mode, 8, 32); err != nil {
		return "", 0, "", false
	}
	n, err := strconv.ParseInt(sz, 10, 64)
	if err != nil || n < 0 {
		return "", 0, "", false
	}
	return mode, n, name, true
}

// end is the end of the stream: a file in flight was cut short.
func (p *scpParser) end() {
	switch p.state {
	case scpData, scpStatus, scpStatusMsg:
		p.emit(p.name, p.size-p.remaining, "transfer cut short")
	}
	p.state = scpDead
}
