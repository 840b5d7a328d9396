package devapp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestApp(t *testing.T) {
	srv := httptest.NewServer(New())
	t.Cleanup(srv.Close)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(t *testing.T, path string, user string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if user != "" {
			req.Header.Set("X-OnePAM-User", user)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("page names the user", func(t *testing.T) {
		if code, body := get(t, "/", "alice"); code != 200 || !strings.Contains(body, "Signed in as <strong>alice</strong>") {
			t.Fatalf("%d %s", code, body)
		}
		if _, body := get(t, "/", ""); !strings.Contains(body, "not behind OnePAM") {
			t.Fatal(body)
		}
	})
	t.Run("form post redirects and the note shows, escaped", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/notes", strings.NewReader(url.Values{"text": {"<b>hi</b>"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-OnePAM-User", "alice")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("POST /notes: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, body := get(t, "/", "alice"); !strings.Contains(body, "<li>alice: &lt;b&gt;hi&lt;/b&gt;</li>") {
			t.Fatal(body)
		}
	})
	t.Run("empty note refused", func(t *testing.T) {
		resp, err := hc.PostForm(srv.URL+"/notes", url.Values{"text": {""}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("json", func(t *testing.T) {
		_, body := get(t, "/api/info", "bob")
		var info Info
		if err := json.Unmarshal([]byte(body), &info); err != nil || info.User != "bob" || info.Notes != 1 || info.Time.IsZero() {
			t.Fatalf("%s %v", body, err)
		}
	})
	t.Run("websocket echo", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, websocket.MessageText, []byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.Read(ctx); err != nil || string(msg) != "ping" {
			t.Fatalf("%q %v", msg, err)
		}
	})
}
