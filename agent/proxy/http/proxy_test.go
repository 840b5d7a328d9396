package httpproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/onepam/onepam/recordfmt/har"
)

// decodeSeen reads the upstream's answer and returns what it saw.
func decodeSeen(t *testing.T, resp *http.Response) seen {
	t.Helper()
	defer resp.Body.Close()
	var a struct {
		SHA string `json:"body_sha256"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("decode upstream answer: %v", err)
	}
	s := getSeen()
	if s.BodySHA != a.SHA {
		t.Fatalf("upstream answer does not match what it saw")
	}
	return s
}

func TestRequestsAndRedaction(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base", Headers: map[string]string{"Authorization": "Bearer agent-only-secret"}})
	c := client()
	for _, tc := range []struct {
		name     string
		do       func() (*http.Response, error)
		check    func(t *testing.T, s seen)
		entry    func(t *testing.T, e *har.Entry)
		noSecret []string
	}{
		{
			name: "GET with secret query and spoofed headers",
			do: func() (*http.Response, error) {
				req, _ := http.NewRequest("GET", r.url+"/echo?q=go&api_key=qk-123", nil)
				req.Header.Set("X-OnePAM-User", "mallory")
				req.Header.Set("X-Forwarded-For", "6.6.6.6")
				return c.Do(req)
			},
			check: func(t *testing.T, s seen) {
				if s.User != "ann" || s.Host != hostOf(up) || s.Auth != "Bearer agent-only-secret" || s.ForwardedFor != "192.0.2.7" || s.Query != "q=go&api_key=qk-123" {
					t.Fatalf("upstream saw %+v", s)
				}
			},
			entry: func(t *testing.T, e *har.Entry) {
				if e.Request.URL != up.URL+"/base/echo?q=go&api_key=%5BREDACTED%5D" || e.Response.Status != 200 {
					t.Fatalf("entry url %q status %d", e.Request.URL, e.Response.Status)
				}
			},
			noSecret: []string{"qk-123", "agent-only-secret", "srv-access-token", "mallory"},
		},
		{
			name: "POST JSON",
			do: func() (*http.Response, error) {
				return c.Post(r.url+"/echo", "application/json", strings.NewReader(`{"user":"ann","password":"pw-json-123","profile":{"client_secret":"cs-456"}}`))
			},
			check: func(t *testing.T, s seen) {
				if !strings.Contains(s.Body, "pw-json-123") || s.Method != "POST" {
					t.Fatalf("upstream must get the body unchanged: %+v", s)
				}
			},
			entry: func(t *testing.T, e *har.Entry) {
				p := e.Request.PostData
				if p == nil || !strings.Contains(p.Text, `"password":"[REDACTED]"`) || !strings.Contains(p.Text, `"client_secret":"[REDACTED]"`) || e.Request.BodySize != 76 {
					t.Fatalf("postData %+v bodySize %d", p, e.Request.BodySize)
				}
				if !strings.Contains(e.Response.Content.Text, `"access_token":"[REDACTED]"`) {
					t.Fatalf("response content %q", e.Response.Content.Text)
				}
			},
			noSecret: []string{"pw-json-123", "cs-456", "srv-access-token"},
		},
		{
			name: "POST form",
			do: func() (*http.Response, error) {
				return c.PostForm(r.url+"/echo", url.Values{"user": {"ann"}, "passwd": {"pw-form-789"}})
			},
			check: func(t *testing.T, s seen) {
				if s.Body != "passwd=pw-form-789&user=ann" {
					t.Fatalf("upstream body %q", s.Body)
				}
			},
			entry: func(t *testing.T, e *har.Entry) {
				p := e.Request.PostData
				if p == nil || len(p.Params) != 2 || p.Params[0] != (har.Param{Name: "passwd", Value: har.Redacted}) || p.Params[1].Value != "ann" {
					t.Fatalf("postData %+v", p)
				}
			},
			noSecret: []string{"pw-form-789"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(r.entries())
			resp, err := tc.do()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, decodeSeen(t, resp))
			es := r.waitEntries(before + 1)
			e := es[before]
			tc.entry(t, e)
			if e.Timings.Send < 0 || e.Timings.Wait < 0 || e.Timings.Receive < 0 || e.Time <= 0 || e.ServerIPAddress != "127.0.0.1" {
				t.Fatalf("timings %+v time %v ip %q", e.Timings, e.Time, e.ServerIPAddress)
			}
			stored := r.rec.Bytes()
			for _, s := range tc.noSecret {
				if bytes.Contains(stored, []byte(s)) {
					t.Errorf("%q is in the recording", s)
				}
			}
		})
	}
	r.export()
}

func TestStreamingLargeBodies(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base"})
	c := client()
	const n = 10 << 20

	t.Run("download", func(t *testing.T) {
		resp, err := c.Get(r.url + "/big?n=" + "10485760")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		got, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		want, _ := pattern(io.Discard, n)
		if err != nil || got != n || hex.EncodeToString(h.Sum(nil)) != want {
			t.Fatalf("got %d bytes (err %v), checksum match %v", got, err, hex.EncodeToString(h.Sum(nil)) == want)
		}
		e := r.waitEntries(1)[0]
		ct := e.Response.Content
		if ct.Size != n || e.Response.BodySize != n || ct.Encoding != "base64" || !strings.Contains(e.Comment, "body truncated: 65536 of 10485760 bytes") {
			t.Fatalf("content size %d bodySize %d enc %q comment %q", ct.Size, e.Response.BodySize, ct.Encoding, e.Comment)
		}
	})
	t.Run("upload", func(t *testing.T) {
		pr, pw := io.Pipe()
		wantc := make(chan string, 1)
		go func() {
			s, err := pattern(pw, n)
			pw.CloseWithError(err)
			wantc <- s
		}()
		req, _ := http.NewRequest("PUT", r.url+"/echo", pr)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := c.Do(req) // chunked: the body is streamed, never known in full
		if err != nil {
			t.Fatal(err)
		}
		s := decodeSeen(t, resp)
		if s.BodyLen != n || s.BodySHA != <-wantc {
			t.Fatalf("upstream got %d bytes, checksum %s", s.BodyLen, s.BodySHA)
		}
		e := r.waitEntries(2)[1]
		if e.Request.BodySize != n || e.Request.PostData == nil || e.Request.PostData.Encoding != "base64" || !strings.Contains(e.Request.PostData.Comment, "65536 of 10485760") {
			t.Fatalf("request bodySize %d postData comment %+v", e.Request.BodySize, e.Request.PostData)
		}
	})
	r.export()
}

func TestChunkedAndKeepAlive(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base"})
	c := client()
	for i := range 2 {
		resp, err := c.Get(r.url + "/chunked")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n" || resp.ContentLength != -1 {
			t.Fatalf("request %d: body %q length %d", i, b, resp.ContentLength)
		}
	}
	es := r.waitEntries(2)
	if r.front.Conns() != 1 || es[0].Conn != 1 || es[1].Conn != 1 || es[1].Connection != "1" {
		t.Fatalf("two requests on one connection: %d conns, entries on conns %d and %d", r.front.Conns(), es[0].Conn, es[1].Conn)
	}
	if es[1].Timings.DNS != -1 || es[1].Timings.Connect != -1 {
		t.Errorf("second request reuses the upstream connection: timings %+v", es[1].Timings)
	}
	if es[0].Response.Content.Size != 40 || es[0].Response.Content.Text != "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n" {
		t.Fatalf("content %+v", es[0].Response.Content)
	}
	r.export()
}

func TestPipelining(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base"})
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /chunked HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(conn)
	for i, want := range []string{"hello from upstream\n", "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n", "hello from upstream\n"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Fatalf("response %d: %q", i, b)
		}
	}
	r.waitEntries(3)
	r.export()
}

func TestRedirectsAndCookies(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base"})
	c := client()
	for _, tc := range []struct{ path, want string }{
		{"/redirect", "/hello?from=redirect"},
		{"/redirect-path", "/hello?from=path"},
		{"/outside", "https://elsewhere.example/x"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := c.Get(r.url + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Location"); got != tc.want {
				t.Fatalf("Location %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("follow", func(t *testing.T) {
		fc := &http.Client{}
		resp, err := fc.Get(r.url + "/redirect")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello from upstream\n" || resp.Request.URL.String() != r.url+"/hello?from=redirect" {
			t.Fatalf("followed to %s: %q", resp.Request.URL, b)
		}
	})
	t.Run("login cookie", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		fc := &http.Client{Jar: jar}
		resp, err := fc.Get(r.url + "/login")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "cookie ok: "+sum([]byte("srv-cookie-secret")) {
			t.Fatalf("after login: %d %q", resp.StatusCode, b)
		}
	})
	es := r.entries()
	var login *har.Entry
	for _, e := range es {
		if strings.HasSuffix(e.Request.URL, "/base/login") {
			login = e
		}
	}
	if login == nil || len(login.Response.Cookies) != 1 || login.Response.Cookies[0].Value != har.Redacted || login.Response.Cookies[0].Path != "/base" {
		t.Fatalf("login entry %+v", login)
	}
	if bytes.Contains(r.rec.Bytes(), []byte("srv-cookie-secret")) {
		t.Error("cookie value in the recording")
	}
	r.export()
}

func TestWebSocket(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(1 << 20)
	for _, msg := range []string{"hello", strings.Repeat("x", 70000)} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := ws.Read(ctx)
		if err != nil || string(got) != msg {
			t.Fatalf("echo: %v, %d bytes", err, len(got))
		}
	}
	if err := ws.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, got, err := ws.Read(ctx); err != nil || !bytes.Equal(got, []byte{0, 1, 2}) {
		t.Fatalf("binary echo: %v %v", got, err)
	}
	ws.Close(websocket.StatusNormalClosure, "bye")
	e := r.waitEntries(1)[0]
	if e.Response.Status != 101 || e.WebSocket == nil || e.WebSocket.BytesUp < 70000 || e.WebSocket.BytesDown < 70000 || e.WebSocket.Messages != 6 {
		t.Fatalf("entry status %d websocket %+v", e.Response.Status, e.WebSocket)
	}
	m := e.WebSocketMessages
	if len(m) != 6 || m[0] != (har.WebSocketMessage{Type: "send", Time: m[0].Time, Opcode: 1, Data: "hello"}) || m[1].Type != "receive" || m[1].Data != "hello" ||
		len(m[2].Data) != har.DefaultBodyCap || m[4].Opcode != 2 || m[4].Data != "AAEC" {
		t.Fatalf("messages %+v", m[:min(len(m), 2)])
	}
	r.export()
}

func TestUpstreamDown(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base"})
	up.Close()
	resp, err := client().Get(r.url + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "502 Bad Gateway") {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	e := r.waitEntries(1)[0]
	if e.Response.Status != 502 || !strings.Contains(e.Comment, "connection refused") {
		t.Fatalf("entry status %d comment %q", e.Response.Status, e.Comment)
	}
	r.export()

	t.Run("open fails", func(t *testing.T) {
		tr := &rig{t: t}
		_ = tr
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		_, err := New(Config{}).Open(context.Background(), testInfo(addr, nil))
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("open of a closed port: %v", err)
		}
	})
}

func TestMalformedRequest(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base"})
	c := client()
	resp, err := c.Get(r.url + "/hello") // a keep-alive connection that must survive
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.waitEntries(1)

	for _, tc := range []struct{ name, bytes string }{
		{"garbage", "\x16\x03\x01 not http at all\r\n\r\n"},
		{"bad header", "GET /hello HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(r.entries())
			conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, tc.bytes)
			b, _ := io.ReadAll(conn) // the connection ends
			if !strings.HasPrefix(string(b), "HTTP/1.1 400 Bad Request") {
				t.Fatalf("answer %q", b)
			}
			e := r.waitEntries(before + 1)[before]
			if e.Response.Status != 400 || !strings.Contains(e.Comment, "malformed") {
				t.Fatalf("entry %d %q", e.Response.Status, e.Comment)
			}
		})
	}
	resp, err = c.Get(r.url + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("other connection after malformed ones: %d", resp.StatusCode)
	}
	r.export()
}

func TestCloseMidDownload(t *testing.T) {
	up := newUpstream(t)
	r := newRig(t, hostOf(up), &TargetConfig{BasePath: "/base"})
	resp, err := client().Get(r.url + "/big?n=1073741824")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	r.sess.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	if n > 512<<20 {
		t.Fatalf("the download went on after Close: %d more bytes", n)
	}
	e := r.waitEntries(1)[0]
	if !strings.Contains(e.Comment, "error") || e.Response.BodySize >= 1<<30 {
		t.Fatalf("cut entry: bodySize %d comment %q", e.Response.BodySize, e.Comment)
	}
	r.export()
}
