package vchan

import (
	"fmt"
	"strings"
	"sync"
)

// Dir is the direction of a channel message.
type Dir uint8

// Directions (the values of deskproto.ClipDir).
const (
	ToServer Dir = 0 // from the person's client to the desktop
	ToClient Dir = 1 // from the desktop to the person's client
)

func (d Dir) String() string {
	if d == ToServer {
		return "to the server"
	}
	return "to the client"
}

// Audited channel names.
const (
	Clipboard = "cliprdr"
	Drives    = "rdpdr"
)

// Event is one audited action.
type Event struct {
	Channel string // Clipboard or Drives
	Dir     Dir    // which way the data went
	// Op is an api.FileOp*: upload (the person's data to the desktop:
	// clipboard content sent to the server, a file read from the
	// person's drive), download (the other way), delete, rename, mkdir,
	// rmdir, list.
	Op string
	// Path is the clipboard format's name, a clipboard file's name, or a
	// path on a redirected drive (\\tsclient\NAME\dir\file); Path2 the
	// new name of a rename.
	Path, Path2 string
	// Bytes moved: the size of clipboard data as transferred, or the
	// bytes read or written on a drive file.
	Bytes int64
	// Text is the start of clipboard text (UTF-8, at most
	// Config.TextMax bytes) when the format holds text; Clip is true
	// for clipboard data (text or not), which the recording shows.
	Text []byte
	Clip bool
}

// Config bounds the audit's memory.
type Config struct {
	// MaxMessage is the most bytes of one channel message kept for
	// decoding (the rest is counted, not kept). Default 1 MiB.
	MaxMessage int
	// TextMax is the most bytes of clipboard text an Event holds.
	// Default 4096.
	TextMax int
}

func (c Config) withDefaults() Config {
	if c.MaxMessage <= 0 {
		c.MaxMessage = 1 << 20
	}
	if c.TextMax <= 0 {
		c.TextMax = 4096
	}
	return c
}

// decoder decodes the messages of one channel.
type decoder interface {
	message(dir Dir, m Message, emit func(Event)) error
	flush(emit func(Event))
}

// chanState is one audited channel.
type chanState struct {
	name   string
	dec    decoder
	re     [2]Reassembler
	failed bool
}

// Audit audits the static channels of one RDP connection. Feed and
// Flush may be called from the relay's two goroutines.
type Audit struct {
	mu    sync.Mutex
	cfg   Config
	chans map[uint16]*chanState
	emit  func(Event)
}

// NewAudit returns an audit that reports events to emit (called with
// the audit's lock held: it must not call back into the Audit).
func NewAudit(cfg Config, emit func(Event)) *Audit {
	return &Audit{cfg: cfg.withDefaults(), chans: map[uint16]*chanState{}, emit: emit}
}

// Join starts auditing channel id if its name is one the audit decodes
// (case-insensitive); it reports whether it does.
func (a *Audit) Join(id uint16, name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	var dec decoder
	switch strings.ToLower(name) {
	case Clipboard:
		dec = newClipboard(a.cfg)
	case Drives:
		dec = newDrives()
	default:
		return false
	}
	st := &chanState{name: strings.ToLower(name), dec: dec}
	st.re[0].Max, st.re[1].Max = a.cfg.MaxMessage, a.cfg.MaxMessage
	a.chans[id] = st
	return true
}

// Feed takes the data of one MCS Send Data on channel id going dir.
// It returns an error the first time the channel's data cannot be
// audited; the channel's audit stops there (the relay goes on).
func (a *Audit) Feed(id uint16, dir Dir, data []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.chans[id]
	if st == nil || st.failed {
		return nil
	}
	err := a.feed(st, dir, data)
	if err != nil {
		st.failed = true
		st.dec.flush(a.emit)
		return fmt.Errorf("audit of channel %s stopped: %w", st.name, err)
	}
	return nil
}

func (a *Audit) feed(st *chanState, dir Dir, data []byte) error {
	c, err := ParseChunk(data)
	if err != nil {
		return err
	}
	m, ok, err := st.re[dir&1].Add(c)
	if err != nil || !ok {
		return err
	}
	return st.dec.message(dir, m, a.emit)
}

// Flush reports what is still pending (files open on a drive, clipboard
// files partly copied) at the end of the connection.
func (a *Audit) Flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, st := range a.chans {
		if !st.failed {
			st.dec.flush(a.emit)
		}
	}
}
