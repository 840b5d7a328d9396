package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/sessions"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
	"github.com/onepam/onepam/recordfmt/container"
)

// sseReader reads "session" events of GET /v1/sessions/stream.
type sseReader struct {
	t    *testing.T
	resp *http.Response
	sc   *bufio.Scanner
}

func (ta *testAPI) stream(user string) *sseReader {
	ta.t.Helper()
	req, _ := http.NewRequest("GET", ta.srv.URL+"/v1/sessions/stream", nil)
	req.Header.Set("Authorization", "Bearer "+ta.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ta.t.Fatal(err)
	}
	ta.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		ta.t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseReader{t: ta.t, resp: resp, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next session event (10 s at most).
func (r *sseReader) next() sessions.Event {
	r.t.Helper()
	got := make(chan sessions.Event, 1)
	go func() {
		event := ""
		for r.sc.Scan() {
			line := r.sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "session":
				var ev sessions.Event
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err == nil {
					got <- ev
					return
				}
			}
		}
		close(got)
	}()
	select {
	case ev, ok := <-got:
		if !ok {
			r.t.Fatal("stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		r.t.Fatal("no session event within 10 s")
	}
	return sessions.Event{}
}

func TestSessionStream(t *testing.T) {
	ta := newTestAPI(t)
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(user string) string {
		s := api.Session{ID: store.NewID(), User: user, Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo", Agent: "a1", CreatedAt: now}
		if err := ta.store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	alices, bobs := mk("alice"), mk("bob")
	admin, bob := ta.stream("alice"), ta.stream("bob")
	for _, id := range []string{alices, bobs} {
		if status, body := ta.call("alice", "POST", "/v1/sessions/"+id+"/kill", `{"reason":"test"}`); status != 200 {
			t.Fatalf("kill: %d %s", status, body)
		}
	}
	tests := []struct {
		name   string
		r      *sseReader
		wantID string
	}{
		{"admin sees alice's session end", admin, alices},
		{"admin sees bob's session end", admin, bobs},
		{"bob sees only his own session", bob, bobs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.r.next()
			if ev.Kind != sessions.EventKindEnded || ev.Session.ID != tc.wantID || ev.Session.Status != api.StatusTerminated || ev.Session.TerminateReason != "test" {
				t.Fatalf("event %s %+v, want ended %s", ev.Kind, ev.Session, tc.wantID)
			}
		})
	}
	if status, _ := ta.call("", "GET", "/v1/sessions/stream", nil); status != 401 {
		t.Fatalf("stream without a token: %d", status)
	}
}

func TestNativeRecording(t *testing.T) {
	ta := newTestAPI(t)
	ctx := context.Background()
	now := time.Now().UTC()
	store1 := func(typ api.SessionType, format api.RecordingFormat, data []byte) string {
		t.Helper()
		s := api.Session{ID: store.NewID(), User: "bob", Type: typ, Status: api.StatusPending, Resource: "r", Agent: "a1", CreatedAt: now,
			Recording: api.Recording{Format: format, State: api.RecordingComplete, Size: int64(len(data)), Available: true}}
		if err := ta.store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := ta.recs.WriteAt(ctx, s.ID, format, 0, data, true); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}

	var cast bytes.Buffer
	rec, err := asciicast.NewRecorder(&cast, asciicast.Header{Width: 80, Height: 24, Timestamp: now.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	rec.Output(500*time.Millisecond, []byte("hello from the target\r\n"))
	rec.Input(time.Second, []byte("exit\r"))
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	castID := store1(api.TypeSSH, api.FormatAsciicast, cast.Bytes())

	harStored, err := os.ReadFile("../../recordfmt/har/testdata/session.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	harID := store1(api.TypeHTTP, api.FormatHAR, harStored)

	connlogLine := `{"t":0.5,"event":"open","conn":1,"peer":"127.0.0.1:5000","target":"127.0.0.1:7","bytes_up":0,"bytes_down":0}` + "\n"
	connlogID := store1(api.TypeTCP, api.FormatConnlog, []byte(connlogLine))

	var boxed bytes.Buffer
	cw, err := container.NewWriter(&boxed, container.Header{SessionID: store.NewID(), Format: api.FormatConnlog, CreatedAt: now}, container.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.Write(500*time.Millisecond, []byte(connlogLine)); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	boxedID := store1(api.TypeTCP, api.FormatConnlog, boxed.Bytes())

	tests := []struct {
		name, id, query string
		wantStatus      int
		wantType        string
		wantPrefix      string
		wantContains    string
	}{
		{"asciicast stored", castID, "", 200, "application/x-asciicast", asciicast.Magic, ""},
		{"asciicast native", castID, "?format=native", 200, "application/x-asciicast", `{"version":2`, `"hello from the target\r\n"`},
		{"har native", harID, "?format=native", 200, "application/json", `{`, `"entries"`},
		{"connlog native", connlogID, "?format=native", 200, "application/x-ndjson", connlogLine, ""},
		{"connlog in a container", boxedID, "?format=native", 200, "application/x-ndjson", connlogLine, ""},
		{"unknown format", castID, "?format=mp4", 400, "application/json", "", "want inner, native or container"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ta.srv.URL+"/v1/sessions/"+tc.id+"/recording"+tc.query, nil)
			req.Header.Set("Authorization", "Bearer "+ta.tokens["alice"])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			b := strings.ReplaceAll(body.String(), `{"version": 2`, `{"version":2`)
			if resp.StatusCode != tc.wantStatus || resp.Header.Get("Content-Type") != tc.wantType ||
				!strings.HasPrefix(b, tc.wantPrefix) || !strings.Contains(b, tc.wantContains) {
				t.Fatalf("%d %s %q, want %d %s starting %q containing %q", resp.StatusCode, resp.Header.Get("Content-Type"), b, tc.wantStatus, tc.wantType, tc.wantPrefix, tc.wantContains)
			}
		})
	}
	t.Run("har native is the exported document", func(t *testing.T) {
		want, err := os.ReadFile("../../recordfmt/har/testdata/session.har")
		if err != nil {
			t.Fatal(err)
		}
		_, got := ta.call("alice", "GET", "/v1/sessions/"+harID+"/recording?format=native", nil)
		if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
			t.Fatalf("native HAR differs from the golden export:\n%s", got)
		}
	})
}
