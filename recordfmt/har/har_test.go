package har

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/recordfmt/har/hartest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func capture(limit int, s string) *Capture {
	c := &Capture{Limit: limit}
	c.Write([]byte(s))
	return c
}

// sampleEntries covers every kind of entry the proxy writes.
func sampleEntries() []*Entry {
	base := func(i int, method, u string) *Entry {
		h := http.Header{"Accept": {"*/*"}, "User-Agent": {"curl/8.0"}}
		e := &Entry{
			StartedDateTime: FormatTime(t0.Add(time.Duration(i) * time.Second)),
			Request: Request{Method: method, URL: u, HTTPVersion: "HTTP/1.1", Headers: Headers(h),
				HeadersSize: HeadersSize(method+" / HTTP/1.1", h), BodySize: 0},
			Response: Response{Status: 200, StatusText: "OK", HTTPVersion: "HTTP/1.1",
				Headers: []NameValue{{Name: "Content-Type", Value: "text/plain"}}, HeadersSize: 60},
			Timings:         Timings{Blocked: 0.1, DNS: -1, Connect: -1, SSL: -1, Send: 0.2, Wait: 1.5, Receive: 0.3},
			ServerIPAddress: "127.0.0.1",
			Connection:      "1",
			Conn:            1,
			T:               float64(i),
		}
		e.Time = e.Timings.Total()
		return e
	}
	var es []*Entry

	e := base(0, "GET", "http://app.test:8080/base/search?q=go&access_token=abc123&page=2")
	e.Request.QueryString = Query("q=go&access_token=abc123&page=2")
	e.Request.Headers = append(e.Request.Headers, NameValue{Name: "Authorization", Value: "Bearer s3cret"},
		NameValue{Name: "Cookie", Value: "sid=xyz; theme=dark"}, NameValue{Name: "X-Api-Key", Value: "k-123"})
	e.Request.Cookies = RequestCookies(http.Header{"Cookie": {"sid=xyz; theme=dark"}})
	sc := http.Header{"Set-Cookie": {"sid=new; Path=/; Expires=Sun, 02 Mar 2025 12:00:00 GMT; HttpOnly; Secure"}}
	e.Response.Headers = append(e.Response.Headers, Headers(sc)...)
	e.Response.Cookies = ResponseCookies(sc)
	e.Response.Content = NewContent("text/plain; charset=utf-8", capture(DefaultBodyCap, "hello\n"))
	e.Response.BodySize = 6
	es = append(es, e)

	e = base(1, "POST", "http://app.test:8080/base/login")
	e.Request.PostData = NewPostData("application/x-www-form-urlencoded", capture(DefaultBodyCap, "user=ann&password=hunter2&remember=1"))
	e.Request.BodySize = 36
	e.Response.Status, e.Response.StatusText = 302, "Found"
	e.Response.RedirectURL = "/base/home?token=t1"
	e.Response.Headers = []NameValue{{Name: "Location", Value: "/base/home?token=t1"}}
	es = append(es, e)

	e = base(2, "POST", "http://app.test:8080/base/api/keys")
	e.Request.PostData = NewPostData("application/json", capture(DefaultBodyCap, `{"name":"ci","client_secret":"cs","nested":{"apiKey":"k","n":1}}`))
	e.Request.BodySize = 62
	e.Response.Content = NewContent("application/json", capture(DefaultBodyCap, `{"access_token":"at","expires_in":3600}`))
	e.Response.BodySize = 40
	es = append(es, e)

	e = base(3, "GET", "http://app.test:8080/base/logo.png")
	e.Response.Content = NewContent("image/png", capture(DefaultBodyCap, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
	e.Response.BodySize = 16
	es = append(es, e)

	e = base(4, "GET", "http://app.test:8080/base/big.json")
	e.Response.Content = NewContent("application/json", capture(24, `{"items":[1,2,3],"password":"pw","more":[4,5,6]}`))
	e.Response.BodySize = 48
	es = append(es, e)

	e = base(5, "GET", "http://app.test:8080/base/ws")
	e.Response.Status, e.Response.StatusText = 101, "Switching Protocols"
	e.Response.Headers = []NameValue{{Name: "Upgrade", Value: "websocket"}, {Name: "Connection", Value: "Upgrade"}}
	e.WebSocket = &WebSocketStats{BytesUp: 17, BytesDown: 13, Messages: 2}
	e.WebSocketMessages = []WebSocketMessage{{Type: "send", Time: 1740830405.25, Opcode: 1, Data: "hello"},
		{Type: "receive", Time: 1740830405.5, Opcode: 1, Data: "hello"}}
	es = append(es, e)

	e = base(6, "GET", "http://app.test:8080/base/down")
	e.Response = Response{Status: 502, StatusText: "Bad Gateway", HTTPVersion: "HTTP/1.1",
		Content: NewContent("text/html; charset=utf-8", capture(DefaultBodyCap, "<h1>502</h1>")), HeadersSize: -1, BodySize: 12}
	e.Timings = Timings{Blocked: -1, DNS: -1, Connect: 2, SSL: -1, Send: 0, Wait: 0, Receive: 0}
	e.Time = e.Timings.Total()
	e.ServerIPAddress = ""
	e.Comment = "upstream error: dial tcp 127.0.0.1:1: connect: connection refused"
	es = append(es, e)
	return es
}

func encodeSample(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf, Header{Creator: Creator{Name: "onepam", Version: "test"}, SessionID: "s-1",
		Resource: "app", User: "ann", Target: "http://app.test:8080/base", Started: FormatTime(t0)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sampleEntries() {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got)
	}
}

func TestGolden(t *testing.T) {
	stored := encodeSample(t)
	golden(t, "session.jsonl", stored)
	var out bytes.Buffer
	if err := Export(&out, bytes.NewReader(stored)); err != nil {
		t.Fatal(err)
	}
	golden(t, "session.har", out.Bytes())
	var doc Document
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	if len(doc.Log.Entries) != 7 || doc.Log.Version != "1.2" || len(doc.Log.Pages) != 1 {
		t.Fatalf("export: %d entries, version %q, %d pages", len(doc.Log.Entries), doc.Log.Version, len(doc.Log.Pages))
	}
	for _, secret := range []string{"abc123", "s3cret", "xyz", "k-123", "hunter2", `"cs"`, `"k"`, `"at"`, `"pw"`, "sid=new", "t1"} {
		if bytes.Contains(stored, []byte(secret)) {
			t.Errorf("secret %s is in the stored recording", secret)
		}
	}
	hartest.Validate(t, out.Bytes())
}

func TestExportCutRecording(t *testing.T) {
	stored := encodeSample(t)
	cut := stored[:len(stored)-40]
	var out bytes.Buffer
	if err := Export(&out, bytes.NewReader(cut)); err != nil {
		t.Fatal(err)
	}
	var doc Document
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Log.Entries) != 6 || !strings.Contains(doc.Log.Comment, "cut short after 6 entries") {
		t.Fatalf("got %d entries, comment %q", len(doc.Log.Entries), doc.Log.Comment)
	}
	hartest.Validate(t, out.Bytes())
}

func TestExportEmptyAndHeaderless(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		entries int
		pages   int
	}{
		{"empty", "", 0, 0},
		{"header only", `{"_onepam_har":1,"creator":{"name":"onepam","version":"x"},"started":"2025-03-01T12:00:00.000Z"}` + "\n", 0, 1},
		{"no header", `{"startedDateTime":"2025-03-01T12:00:00.000Z","time":1,"request":{"method":"GET","url":"http://a/"},"response":{"status":200},"timings":{"send":0,"wait":1,"receive":0},"_conn":1,"_t":0}` + "\n", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Export(&out, strings.NewReader(tc.in)); err != nil {
				t.Fatal(err)
			}
			var doc Document
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Log.Entries) != tc.entries || len(doc.Log.Pages) != tc.pages {
				t.Fatalf("%d entries, %d pages", len(doc.Log.Entries), len(doc.Log.Pages))
			}
			hartest.Validate(t, out.Bytes())
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	hdr := `{"_onepam_har":1,"creator":{"name":"onepam","version":"x"},"started":"2025-03-01T12:00:00.000Z"}` + "\n"
	ok := `{"startedDateTime":"2025-03-01T12:00:00.000Z","time":1,"request":{"method":"GET","url":"http://a/"},"response":{"status":200},"timings":{"send":0,"wait":1,"receive":0}}`
	for _, tc := range []struct{ name, in, want string }{
		{"not an object", hdr + "[1]\n", "line 2: not a JSON object"},
		{"bad json", hdr + "{\"x\":\n", "line 2"},
		{"second header", hdr + hdr, "header line after the first"},
		{"future version", `{"_onepam_har":2,"started":"2025-03-01T12:00:00Z"}` + "\n", "unsupported stored version 2"},
		{"bad date", hdr + strings.Replace(ok, "2025-03-01T12:00:00.000Z", "yesterday", 1) + "\n", "startedDateTime"},
		{"no method", hdr + strings.Replace(ok, `"GET"`, `""`, 1) + "\n", "request.method is empty"},
		{"relative url", hdr + strings.Replace(ok, `"http://a/"`, `"/a"`, 1) + "\n", "not an absolute URL"},
		{"negative wait", hdr + strings.Replace(ok, `"wait":1`, `"wait":-1`, 1) + "\n", "timings.wait"},
		{"bad status", hdr + strings.Replace(ok, `200`, `1200`, 1) + "\n", "out of range"},
		{"bad ip", hdr + strings.Replace(ok, `"time":1`, `"time":1,"serverIPAddress":"host"`, 1) + "\n", "serverIPAddress"},
		{"bad base64", hdr + strings.Replace(ok, `{"status":200}`, `{"status":200,"content":{"text":"!!","encoding":"base64"}}`, 1) + "\n", "bad base64"},
		{"cut", hdr + ok[:40], "cut short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadAll(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errorsIsMalformed(err) {
				t.Fatalf("got %v, want an ErrMalformed error containing %q", err, tc.want)
			}
		})
	}
}
