package httpproxy

import (
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/recordfmt/har"
)

// wsLog collects the WebSocket messages of one upgraded connection from
// both directions.
type wsLog struct {
	mu      sync.Mutex
	max     int
	msgs    []har.WebSocketMessage
	count   int64
	dropped int64
}

func (l *wsLog) add(m har.WebSocketMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if len(l.msgs) >= l.max {
		l.dropped++
		return
	}
	l.msgs = append(l.msgs, m)
}

// wsParser follows the WebSocket frames (RFC 6455 §5.2) of one direction
// as they are relayed and logs each data message (the first cap bytes of
// it). It never changes the bytes; on anything it does not understand it
// stops parsing and the relay goes on.
type wsParser struct {
	dir  string // "send" or "receive"
	log  *wsLog
	now  func() time.Time
	cap  int
	stop bool

	hdr     [14]byte
	hn      int    // header bytes collected
	left    uint64 // payload bytes left in the current frame
	inFrame bool
	opcode  byte
	fin     bool
	masked  bool
	mask    [4]byte
	mpos    int

	msgOp   byte
	msg     []byte
	deflate bool
}

func newWSParser(dir string, log *wsLog, now func() time.Time, capBytes int) *wsParser {
	return &wsParser{dir: dir, log: log, now: now, cap: capBytes}
}

func (p *wsParser) feed(b []byte) {
	for len(b) > 0 && !p.stop {
		if !p.inFrame {
			b = p.header(b)
			continue
		}
		n := uint64(len(b))
		if n > p.left {
			n = p.left
		}
		if p.opcode < 8 {
			for _, c := range b[:n] {
				if len(p.msg) < p.cap {
					if p.masked {
						c ^= p.mask[p.mpos&3]
					}
					p.msg = append(p.msg, c)
				}
				p.mpos++
			}
		}
		b = b[n:]
		p.left -= n
		if p.left == 0 {
			p.endFrame()
		}
	}
}

// header collects and decodes a frame header; it returns what follows it.
func (p *wsParser) header(b []byte) []byte {
	need := 2
	for {
		if p.hn >= 2 {
			need = 2
			switch p.hdr[1] & 0x7f {
			case 126:
				need += 2
			case 127:
				need += 8
			}
			if p.hdr[1]&0x80 != 0 {
				need += 4
			}
		}
		if p.hn >= need {
			break
		}
		if len(b) == 0 {
			return b
		}
		p.hdr[p.hn] = b[0]
		p.hn++
		b = b[1:]
	}
	h := p.hdr[:p.hn]
	p.fin = h[0]&0x80 != 0
	p.opcode = h[0] & 0x0f
	p.masked = h[1]&0x80 != 0
	i := 2
	switch h[1] & 0x7f {
	case 126:
		p.left = uint64(h[2])<<8 | uint64(h[3])
		i = 4
	case 127:
		p.left = 0
		for _, c := range h[2:10] {
			p.left = p.left<<8 | uint64(c)
		}
		i = 10
		if p.left>>63 != 0 {
			p.stop = true
		}
	default:
		p.left = uint64(h[1] & 0x7f)
	}
	if p.masked {
		copy(p.mask[:], h[i:i+4])
	}
	p.hn, p.mpos, p.inFrame = 0, 0, true
	switch {
	case p.opcode == 1 || p.opcode == 2:
		p.msgOp, p.msg, p.deflate = p.opcode, p.msg[:0], h[0]&0x40 != 0
	case p.opcode == 0 || p.opcode >= 8 && p.opcode <= 10:
	default:
		p.stop = true // reserved opcode: not WebSocket as we know it
	}
	if p.left == 0 {
		p.endFrame()
	}
	return b
}

func (p *wsParser) endFrame() {
	p.inFrame = false
	if p.opcode >= 8 || !p.fin || p.msgOp == 0 {
		return
	}
	m := har.WebSocketMessage{Type: p.dir, Opcode: int(p.msgOp), Time: float64(p.now().UnixMicro()) / 1e6}
	if p.msgOp == 1 && !p.deflate {
		m.Data = strings.ToValidUTF8(string(p.msg), "\uFFFD")
	} else {
		m.Opcode = 2
		m.Data = base64.StdEncoding.EncodeToString(p.msg)
	}
	p.log.add(m)
	p.msgOp, p.msg = 0, p.msg[:0]
}
