package har

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"net/url"
	"time"
)

// ErrTruncated is returned (wrapping ErrMalformed) for a last line that
// has no newline and does not parse: a recording cut short mid-write.
var ErrTruncated = fmt.Errorf("%w: last line cut short", ErrMalformed)

// Decoder reads the stored form.
type Decoder struct {
	r       *bufio.Reader
	line    int
	started bool
	hdr     Header
	pending []byte // the first line when it was an entry
	err     error
}

// NewDecoder returns a decoder reading r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// Header returns the header line; a zero Header when the recording has
// none (its first line is an entry) or is empty.
func (d *Decoder) Header() (Header, error) {
	if err := d.start(); err != nil {
		return Header{}, err
	}
	return d.hdr, nil
}

func (d *Decoder) start() error {
	if d.started {
		return nil
	}
	d.started = true
	b, last, err := d.readLine()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	if !isHeader(b) {
		d.pending = b
		return nil
	}
	if err := json.Unmarshal(b, &d.hdr); err != nil {
		return d.bad(last, "header: %v", err)
	}
	if d.hdr.Version != StoredVersion {
		return d.bad(false, "unsupported stored version %d (want %d)", d.hdr.Version, StoredVersion)
	}
	if _, err := time.Parse(time.RFC3339Nano, d.hdr.Started); err != nil {
		return d.bad(false, "header started: %v", err)
	}
	return nil
}

// isHeader reports whether a line is a header (has the "_onepam_har" key).
func isHeader(b []byte) bool {
	var probe struct {
		V *json.RawMessage `json:"_onepam_har"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.V != nil
}

// Next returns the next entry, or io.EOF after the last one.
func (d *Decoder) Next() (*Entry, error) {
	if d.err != nil {
		return nil, d.err
	}
	if err := d.start(); err != nil {
		d.err = err
		return nil, err
	}
	b, last := d.pending, false
	if b != nil {
		d.pending = nil
	} else {
		var err error
		if b, last, err = d.readLine(); err != nil {
			d.err = err
			return nil, err
		}
	}
	e, err := d.entry(b, last)
	if err != nil {
		d.err = err
		return nil, err
	}
	return e, nil
}

// readLine returns the next non-empty line without its newline; last
// says it had no newline.
func (d *Decoder) readLine() ([]byte, bool, error) {
	for {
		var line []byte
		for {
			chunk, err := d.r.ReadSlice('\n')
			if len(line)+len(chunk) > MaxLineSize+1 {
				d.line++
				return nil, false, fmt.Errorf("%w: line %d: longer than %d bytes", ErrMalformed, d.line, MaxLineSize)
			}
			line = append(line, chunk...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, false, fmt.Errorf("har: read: %w", err)
			}
			if err != nil && len(line) == 0 {
				return nil, false, io.EOF
			}
			break
		}
		d.line++
		last := line[len(line)-1] != '\n'
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if last {
				return nil, false, io.EOF
			}
			continue
		}
		return line, last, nil
	}
}

func (d *Decoder) bad(last bool, format string, args ...any) error {
	if last {
		return fmt.Errorf("%w: line %d: %s", ErrTruncated, d.line, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%w: line %d: %s", ErrMalformed, d.line, fmt.Sprintf(format, args...))
}

func (d *Decoder) entry(b []byte, last bool) (*Entry, error) {
	if len(b) == 0 || b[0] != '{' {
		return nil, d.bad(last, "not a JSON object")
	}
	if isHeader(b) {
		return nil, d.bad(false, "a header line after the first line")
	}
	e := new(Entry)
	if err := json.Unmarshal(b, e); err != nil {
		return nil, d.bad(last, "%v", err)
	}
	if err := check(e); err != nil {
		return nil, d.bad(false, "%v", err)
	}
	normalize(e)
	return e, nil
}

// check validates what HAR 1.2 (and har-validator) require of an entry.
func check(e *Entry) error {
	if _, err := time.Parse(time.RFC3339Nano, e.StartedDateTime); err != nil {
		return fmt.Errorf("startedDateTime: %v", err)
	}
	if e.Request.Method == "" {
		return errors.New("request.method is empty")
	}
	if u, err := url.Parse(e.Request.URL); err != nil || !u.IsAbs() {
		return fmt.Errorf("request.url %q is not an absolute URL", e.Request.URL)
	}
	if e.Response.Status < 0 || e.Response.Status > 999 {
		return fmt.Errorf("response.status %d out of range", e.Response.Status)
	}
	t := e.Timings
	for name, v := range map[string]float64{"time": e.Time, "_t": e.T, "timings.send": t.Send, "timings.wait": t.Wait, "timings.receive": t.Receive} {
		if v < 0 || math.IsNaN(v) {
			return fmt.Errorf("%s %v is negative", name, v)
		}
	}
	for name, v := range map[string]float64{"blocked": t.Blocked, "dns": t.DNS, "connect": t.Connect, "ssl": t.SSL} {
		if v < -1 {
			return fmt.Errorf("timings.%s %v is below -1", name, v)
		}
	}
	if e.Conn < 0 {
		return fmt.Errorf("_conn %d is negative", e.Conn)
	}
	for name, v := range map[string]int64{"request.headersSize": e.Request.HeadersSize, "request.bodySize": e.Request.BodySize,
		"response.headersSize": e.Response.HeadersSize, "response.bodySize": e.Response.BodySize, "response.content.size": e.Response.Content.Size} {
		if v < -1 {
			return fmt.Errorf("%s %d is below -1", name, v)
		}
	}
	if e.ServerIPAddress != "" {
		if _, err := netip.ParseAddr(e.ServerIPAddress); err != nil {
			return fmt.Errorf("serverIPAddress: %v", err)
		}
	}
	for _, enc := range []struct{ name, enc, text string }{
		{"response.content", e.Response.Content.Encoding, e.Response.Content.Text},
		{"request.postData", postEnc(e.Request.PostData), postText(e.Request.PostData)},
	} {
		switch enc.enc {
		case "":
		case "base64":
			if _, err := base64.StdEncoding.DecodeString(enc.text); err != nil {
				return fmt.Errorf("%s: bad base64: %v", enc.name, err)
			}
		default:
			return fmt.Errorf("%s: unknown encoding %q", enc.name, enc.enc)
		}
	}
	for _, cs := range [][]Cookie{e.Request.Cookies, e.Response.Cookies} {
		for _, c := range cs {
			if c.Expires == "" {
				continue
			}
			if _, err := time.Parse(time.RFC3339Nano, c.Expires); err != nil {
				return fmt.Errorf("cookie %q expires: %v", c.Name, err)
			}
		}
	}
	for _, m := range e.WebSocketMessages {
		if m.Type != "send" && m.Type != "receive" {
			return fmt.Errorf("_webSocketMessages: type %q (want send or receive)", m.Type)
		}
	}
	return nil
}

func postEnc(p *PostData) string {
	if p == nil {
		return ""
	}
	return p.Encoding
}

func postText(p *PostData) string {
	if p == nil {
		return ""
	}
	return p.Text
}

// ReadAll decodes a whole stored recording.
func ReadAll(r io.Reader) (Header, []*Entry, error) {
	d := NewDecoder(r)
	h, err := d.Header()
	if err != nil {
		return h, nil, err
	}
	var es []*Entry
	for {
		e, err := d.Next()
		if errors.Is(err, io.EOF) {
			return h, es, nil
		}
		if err != nil {
			return h, es, err
		}
		es = append(es, e)
	}
}
