package har

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
)

// Redacted replaces every secret value.
const Redacted = "[REDACTED]"

// DefaultSecretFields are the name fragments that mark a query, form or
// JSON field (and a header) as secret.
var DefaultSecretFields = []string{"password", "passwd", "secret", "token", "api_key", "apikey", "access_token", "client_secret"}

// DefaultSecretHeaders are headers whose values are always redacted.
var DefaultSecretHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// Redactor removes secrets from entries. A name is secret when, lowercased
// and with "-" and "_" removed, it contains one of the (equally folded)
// Fields; headers are secret when listed in Headers or when their name is.
type Redactor struct {
	fields  []string
	fieldsB [][]byte // fields as bytes
	kinds   sync.Map // header name → its kind (headerKind)
	nkinds  atomic.Int64
	headers map[string]bool
	jsonKV  *regexp.Regexp
}

// NewRedactor returns a redactor for the given field fragments (nil:
// DefaultSecretFields) and extra secret headers (added to
// DefaultSecretHeaders).
func NewRedactor(fields, extraHeaders []string) *Redactor {
	if fields == nil {
		fields = DefaultSecretFields
	}
	r := &Redactor{headers: map[string]bool{}}
	for _, f := range fields {
		if f = fold(f); f != "" {
			r.fields = append(r.fields, f)
			r.fieldsB = append(r.fieldsB, []byte(f))
		}
	}
	for _, h := range append(append([]string{}, DefaultSecretHeaders...), extraHeaders...) {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	// "key" : "value" pairs, for JSON bodies cut short by the capture cap.
	r.jsonKV = regexp.MustCompile(`"((?:[^"\\]|\\.){1,200})"\s*:\s*("(?:[^"\\]|\\.)*"?|[-0-9.eE+]+|true|false|null)`)
	return r
}

var folder = strings.NewReplacer("-", "", "_", "")

func fold(s string) string {
	return folder.Replace(strings.ToLower(s))
}

// foldASCII is fold for an ASCII s, into buf; false when s is not ASCII.
func foldASCII(buf []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x80:
			return nil, false
		case c == '-' || c == '_':
		case c >= 'A' && c <= 'Z':
			buf = append(buf, c+'a'-'A')
		default:
			buf = append(buf, c)
		}
	}
	return buf, true
}

// Secret reports whether a field called name holds a secret.
func (r *Redactor) Secret(name string) bool {
	var buf [64]byte
	f, ok := foldASCII(buf[:0], name)
	if !ok {
		f = []byte(fold(name))
	}
	for _, s := range r.fieldsB {
		if bytes.Contains(f, s) {
			return true
		}
	}
	return false
}

// Entry redacts e in place: headers, cookies, the URL's query, query
// parameters, form and JSON request bodies, JSON and form response bodies.
func (r *Redactor) Entry(e *Entry) {
	q := &e.Request
	q.URL = r.URL(q.URL)
	for i := range q.Headers {
		q.Headers[i].Value = r.header(q.Headers[i].Name, q.Headers[i].Value)
	}
	for i := range q.QueryString {
		if r.Secret(q.QueryString[i].Name) {
			q.QueryString[i].Value = Redacted
		}
	}
	for i := range q.Cookies {
		q.Cookies[i].Value = Redacted
	}
	if p := q.PostData; p != nil {
		for i := range p.Params {
			if r.Secret(p.Params[i].Name) {
				p.Params[i].Value = Redacted
			}
		}
		if p.Encoding == "" {
			p.Text = r.Body(p.MimeType, p.Text)
		}
	}
	s := &e.Response
	for i := range s.Headers {
		s.Headers[i].Value = r.header(s.Headers[i].Name, s.Headers[i].Value)
	}
	for i := range s.Cookies {
		s.Cookies[i].Value = Redacted
	}
	s.RedirectURL = r.URL(s.RedirectURL)
	if s.Content.Encoding == "" {
		s.Content.Text = r.Body(s.Content.MimeType, s.Content.Text)
	}
}

// The kinds of header values, for redaction.
const (
	hdrPlain = iota
	hdrSecret
	hdrCookie
	hdrSetCookie
	hdrURL
)

// maxHeaderKinds bounds the names whose kind a Redactor keeps (names
// come from the people's requests).
const maxHeaderKinds = 1024

// headerKind is the kind of the header called name.
func (r *Redactor) headerKind(name string) int {
	if k, ok := r.kinds.Load(name); ok {
		return k.(int)
	}
	k := hdrPlain
	switch canon := http.CanonicalHeaderKey(name); {
	case canon == "Cookie":
		k = hdrCookie
	case canon == "Set-Cookie":
		k = hdrSetCookie
	case canon == "Location" || canon == "Content-Location" || canon == "Referer":
		k = hdrURL
	case r.headers[canon] || r.Secret(name):
		k = hdrSecret
	}
	if r.nkinds.Add(1) <= maxHeaderKinds {
		r.kinds.Store(name, k)
	}
	return k
}

// header returns the recorded value of one header.
func (r *Redactor) header(name, value string) string {
	switch r.headerKind(name) {
	case hdrCookie:
		return redactPairs(value, ";", func(string) bool { return true })
	case hdrSetCookie:
		// Keep the name and the attributes; hide the value.
		name, rest, _ := strings.Cut(value, ";")
		n, _, _ := strings.Cut(name, "=")
		if rest != "" {
			rest = ";" + rest
		}
		return strings.TrimSpace(n) + "=" + Redacted + rest
	case hdrURL:
		return r.URL(value)
	case hdrSecret:
		return Redacted
	}
	return value
}

// URL redacts secret query parameters of a URL, keeping everything else
// byte for byte.
func (r *Redactor) URL(s string) string {
	base, query, ok := strings.Cut(s, "?")
	if !ok {
		return s
	}
	frag := ""
	if i := strings.IndexByte(query, '#'); i >= 0 {
		query, frag = query[:i], query[i:]
	}
	return base + "?" + redactPairs(query, "&", r.Secret) + frag
}

// redactPairs redacts the values of name=value pairs separated by sep
// whose (unescaped) name is secret.
func redactPairs(s, sep string, secret func(string) bool) string {
	parts := strings.Split(s, sep)
	changed := false
	for i, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if !hasValue {
			continue
		}
		un, err := url.QueryUnescape(strings.TrimSpace(name))
		if err != nil {
			un = name
		}
		if secret(un) {
			parts[i] = name + "=" + url.QueryEscape(Redacted)
			if sep == ";" {
				parts[i] = name + "=" + Redacted
			}
			changed = true
		}
	}
	if !changed {
		return s
	}
	return strings.Join(parts, sep)
}

// Body redacts secret fields of a textual body of the given MIME type:
// form bodies by field, JSON by key at any depth (a body cut by the
// capture cap, no longer valid JSON, by its "key": value pairs).
func (r *Redactor) Body(mimeType, text string) string {
	if text == "" {
		return text
	}
	switch {
	case containsFold(mimeType, "x-www-form-urlencoded"):
		return redactPairs(text, "&", r.Secret)
	case containsFold(mimeType, "json"):
		return r.JSON(text)
	}
	return text
}

// JSON redacts secret keys of a JSON text.
func (r *Redactor) JSON(text string) string {
	if !r.mayNameSecret(text) {
		return text // no key can be secret: no need to parse
	}
	return r.redactJSON(text)
}

// redactJSON is JSON without the check that spares parsing.
func (r *Redactor) redactJSON(text string) string {
	var v any
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	if err := d.Decode(&v); err == nil && !d.More() {
		if !r.walk(v) {
			return text
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if enc.Encode(v) == nil {
			return strings.TrimSuffix(b.String(), "\n")
		}
	}
	return r.jsonKV.ReplaceAllStringFunc(text, func(m string) string {
		sub := r.jsonKV.FindStringSubmatch(m)
		var key string
		if json.Unmarshal([]byte(`"`+sub[1]+`"`), &key) != nil {
			key = sub[1]
		}
		if !r.Secret(key) {
			return m
		}
		return `"` + sub[1] + `":"` + Redacted + `"`
	})
}

// mayNameSecret reports whether some name in text could be secret: a
// name written in text folds (lowercase, no "-" or "_") to a substring of
// the folded text, so when no secret fragment is in the folded text no
// name is secret; a \u escape could spell a name differently, so text
// with one may always name a secret.
func (r *Redactor) mayNameSecret(text string) bool {
	if strings.Contains(text, `\u`) {
		return true
	}
	f := fold(text)
	for _, s := range r.fields {
		if strings.Contains(f, s) {
			return true
		}
	}
	return false
}

// walk redacts v in place and reports whether anything changed.
func (r *Redactor) walk(v any) bool {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if r.Secret(k) {
				t[k] = Redacted
				changed = true
			} else if r.walk(x) {
				changed = true
			}
		}
	case []any:
		for _, x := range t {
			if r.walk(x) {
				changed = true
			}
		}
	}
	return changed
}

// containsFold reports whether strings.ToLower(s) contains the lowercase
// ASCII sub.
func containsFold(s, sub string) bool {
	var buf [128]byte
	if len(s) > len(buf) {
		return strings.Contains(strings.ToLower(s), sub)
	}
	b := buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return strings.Contains(strings.ToLower(s), sub)
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return bytes.Contains(b, []byte(sub))
}
