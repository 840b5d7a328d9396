package asciicast

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// MaxLineSize is the longest asciicast v2 line (header or event, newline
// included) a Decoder accepts.
const MaxLineSize = 1 << 20

// Decoder reads a recording as asciicast v2 events. It accepts both asciicast
// v2 text and the stored form (recognised by its magic), which it converts
// the way Export does.
type Decoder struct {
	hdr  Header
	idle float64
	// exactly one of these is set
	sc   *bufio.Scanner
	conv *converter
	line int
	err  error
}

// NewDecoder reads the header from r. Malformed input is an error wrapping
// ErrMalformed that names the line.
func NewDecoder(r io.Reader) (*Decoder, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if pre, _ := br.Peek(len(Magic)); string(pre) == Magic {
		rd, err := NewReader(br)
		if err != nil {
			return nil, err
		}
		return &Decoder{hdr: rd.Header(), conv: &converter{rd: rd}}, nil
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 4096), MaxLineSize)
	d := &Decoder{sc: sc}
	b, err := d.scan()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: empty input, want an asciicast v2 header", ErrMalformed)
	}
	if err != nil {
		return nil, err
	}
	if err := d.parseHeader(b); err != nil {
		return nil, err
	}
	return d, nil
}

// Header returns the recording's header.
func (d *Decoder) Header() Header { return d.hdr }

// IdleTimeLimit returns the header's idle_time_limit in seconds, 0 when
// absent (always 0 for the stored form).
func (d *Decoder) IdleTimeLimit() float64 { return d.idle }

// Next returns the next event, io.EOF after the last one, or an error
// wrapping ErrMalformed naming the line (ErrTruncated for a cut stored
// form). Blank lines are skipped. After an error every further call returns
// the same error.
func (d *Decoder) Next() (Event, error) {
	if d.err != nil {
		return Event{}, d.err
	}
	var ev Event
	var err error
	if d.conv != nil {
		var us int64
		var code string
		var data []byte
		us, code, data, err = d.conv.next()
		ev = Event{Time: float64(us) / 1e6, Code: code, Data: string(data)}
	} else {
		ev, err = d.nextLine()
	}
	if err != nil {
		d.err = err
		return Event{}, err
	}
	return ev, nil
}

func (d *Decoder) nextLine() (Event, error) {
	for {
		b, err := d.scan()
		if err != nil {
			return Event{}, err
		}
		if len(b) == 0 {
			continue
		}
		return d.parseEvent(b)
	}
}

// scan returns the next line with surrounding white space trimmed.
func (d *Decoder) scan() ([]byte, error) {
	if !d.sc.Scan() {
		err := d.sc.Err()
		switch {
		case err == nil:
			return nil, io.EOF
		case errors.Is(err, bufio.ErrTooLong):
			return nil, fmt.Errorf("%w: line %d: longer than %d bytes", ErrMalformed, d.line+1, MaxLineSize)
		default:
			return nil, fmt.Errorf("asciicast: read line %d: %w", d.line+1, err)
		}
	}
	d.line++
	return bytes.TrimSpace(d.sc.Bytes()), nil
}

func (d *Decoder) malformed(format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrMalformed, d.line, fmt.Sprintf(format, args...))
}

// v2Header is the asciicast v2 header; pointer fields tell absent from zero
// and accept null, which asciinema writes for unset env variables.
type v2Header struct {
	Version       *int               `json:"version"`
	Width         *int               `json:"width"`
	Height        *int               `json:"height"`
	Timestamp     *float64           `json:"timestamp"`
	IdleTimeLimit *float64           `json:"idle_time_limit"`
	Command       *string            `json:"command"`
	Title         *string            `json:"title"`
	Env           map[string]*string `json:"env"`
	Onepam        *struct {
		SessionID *string `json:"session_id"`
		User      *string `json:"user"`
		Resource  *string `json:"resource"`
		Login     *string `json:"login"`
	} `json:"onepam"`
}

func (d *Decoder) parseHeader(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return d.malformed("header is not a JSON object")
	}
	var h v2Header
	if err := json.Unmarshal(b, &h); err != nil {
		return d.malformed("header: %v", err)
	}
	switch {
	case h.Version == nil:
		return d.malformed("header has no version")
	case *h.Version != 2:
		return d.malformed("asciicast version %d, want 2", *h.Version)
	case h.Width == nil || h.Height == nil:
		return d.malformed("header lacks width or height")
	case *h.Width < 0 || *h.Height < 0:
		return d.malformed("negative terminal size %dx%d", *h.Width, *h.Height)
	}
	d.hdr = Header{Width: *h.Width, Height: *h.Height, Command: str(h.Command), Title: str(h.Title)}
	if t := h.Timestamp; t != nil {
		if math.IsNaN(*t) || *t < 0 || *t > 1<<53 {
			return d.malformed("timestamp %v out of range", *t)
		}
		d.hdr.Timestamp = int64(*t)
	}
	if t := h.IdleTimeLimit; t != nil {
		if math.IsNaN(*t) || *t < 0 {
			return d.malformed("idle_time_limit %v out of range", *t)
		}
		d.idle = *t
	}
	for k, v := range h.Env {
		if v == nil {
			continue
		}
		if d.hdr.Env == nil {
			d.hdr.Env = make(map[string]string)
		}
		d.hdr.Env[k] = *v
	}
	if o := h.Onepam; o != nil {
		d.hdr.SessionID, d.hdr.User, d.hdr.Resource, d.hdr.Login = str(o.SessionID), str(o.User), str(o.Resource), str(o.Login)
	}
	return nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (d *Decoder) parseEvent(b []byte) (Event, error) {
	if b[0] != '[' {
		return Event{}, d.malformed("event is not a JSON array")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Event{}, d.malformed("event: %v", err)
	}
	if len(raw) != 3 {
		return Event{}, d.malformed("event has %d elements, want [time, code, data]", len(raw))
	}
	for i, r := range raw {
		if string(r) == "null" {
			return Event{}, d.malformed("event element %d is null", i+1)
		}
	}
	var ev Event
	if err := json.Unmarshal(raw[0], &ev.Time); err != nil {
		return Event{}, d.malformed("event time: %v", err)
	}
	if ev.Time < 0 || ev.Time > float64(maxMicros)/1e6 {
		return Event{}, d.malformed("event time %v out of range", ev.Time)
	}
	if err := json.Unmarshal(raw[1], &ev.Code); err != nil {
		return Event{}, d.malformed("event code: %v", err)
	}
	if ev.Code == "" {
		return Event{}, d.malformed("empty event code")
	}
	if err := json.Unmarshal(raw[2], &ev.Data); err != nil {
		return Event{}, d.malformed("event data: %v", err)
	}
	return ev, nil
}
