package har

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// TimeFormat is the format of every HAR date: RFC 3339 with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// StoredVersion is the version of the stored form written by Encoder.
const StoredVersion = 1

// MaxLineSize bounds one stored line. Bodies are capped well below it.
const MaxLineSize = 16 << 20

// Header is the first line of a stored recording.
type Header struct {
	// Version is StoredVersion; its key "_onepam_har" marks the line as
	// the header.
	Version   int     `json:"_onepam_har"`
	Creator   Creator `json:"creator"`
	SessionID string  `json:"session_id,omitempty"`
	Resource  string  `json:"resource,omitempty"`
	User      string  `json:"user,omitempty"`
	Target    string  `json:"target,omitempty"` // the upstream base URL
	Started   string  `json:"started"`          // TimeFormat
}

// Options configure an Encoder.
type Options struct {
	// Redactor removes secrets before anything is written; nil uses
	// NewRedactor(nil, nil). Nothing reaches the writer unredacted.
	Redactor *Redactor
}

// Encoder writes the stored form: the header line, then one line per
// entry, each with a single Write. It is safe for concurrent use.
type Encoder struct {
	w   io.Writer
	red *Redactor

	mu sync.Mutex // one line per Write, in order
}

// NewEncoder writes h as the first line and returns an encoder for the
// entries. The header's Version is set to StoredVersion.
func NewEncoder(w io.Writer, h Header, opts Options) (*Encoder, error) {
	e := &Encoder{w: w, red: opts.Redactor}
	if e.red == nil {
		e.red = NewRedactor(nil, nil)
	}
	h.Version = StoredVersion
	if err := e.writeLine(h); err != nil {
		return nil, fmt.Errorf("har: write header: %w", err)
	}
	return e, nil
}

// Encode redacts e (in place) and appends it as one line.
func (enc *Encoder) Encode(e *Entry) error {
	enc.red.Entry(e)
	normalize(e)
	bp := entryBufs.Get().(*[]byte)
	line, err := appendEntry((*bp)[:0], e)
	if err == nil {
		err = enc.write(append(line, '\n'))
	}
	if cap(line) <= 1<<20 { // keep the pool's buffers small
		*bp = line
		entryBufs.Put(bp)
	}
	if err != nil {
		return fmt.Errorf("har: write entry: %w", err)
	}
	return nil
}

// entryBufs are the buffers entries are encoded in.
var entryBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (enc *Encoder) writeLine(v any) error {
	return appendLine(v, enc.write)
}

// write writes one line, its "\n" included.
func (enc *Encoder) write(line []byte) error {
	if len(line)-1 > MaxLineSize {
		return fmt.Errorf("line of %d bytes is over the %d byte limit", len(line)-1, MaxLineSize)
	}
	enc.mu.Lock()
	defer enc.mu.Unlock()
	_, err := enc.w.Write(line)
	return err
}

// normalize makes the required arrays non-nil so they encode as [].
func normalize(e *Entry) {
	if e.Request.Cookies == nil {
		e.Request.Cookies = []Cookie{}
	}
	if e.Request.Headers == nil {
		e.Request.Headers = []NameValue{}
	}
	if e.Request.QueryString == nil {
		e.Request.QueryString = []NameValue{}
	}
	if e.Response.Cookies == nil {
		e.Response.Cookies = []Cookie{}
	}
	if e.Response.Headers == nil {
		e.Response.Headers = []NameValue{}
	}
	if e.Response.Content.MimeType == "" {
		e.Response.Content.MimeType = "x-unknown"
	}
	if p := e.Request.PostData; p != nil && len(p.Params) > 0 {
		p.Text = ""
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// FormatTime formats t as a HAR date.
func FormatTime(t time.Time) string {
	// t.Format(TimeFormat), with the second and zone formatted once a
	// second (one entry per request is stamped).
	sec, loc := t.Unix(), t.Location()
	c := lastSecond.Load()
	if c == nil || c.sec != sec || c.loc != loc {
		c = &formattedSecond{sec: sec, loc: loc, date: t.Format("2006-01-02T15:04:05"), zone: t.Format("Z07:00")}
		lastSecond.Store(c)
	}
	ms := t.Nanosecond() / 1e6
	return c.date + string([]byte{'.', byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10)}) + c.zone
}

// formattedSecond is one second of one location, formatted.
type formattedSecond struct {
	sec        int64
	loc        *time.Location
	date, zone string
}

var lastSecond atomic.Pointer[formattedSecond]

// ErrMalformed is wrapped by every error about bad stored input.
var ErrMalformed = errors.New("har: malformed recording")
