package sessions

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

const testSessionID = "0197a000-0000-7000-8000-000000000001"

func TestNoticeRoundTrip(t *testing.T) {
	created := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	small := api.Session{ID: testSessionID, User: "bob", Type: api.TypeTCP, Status: api.StatusActive, Resource: "echo", CreatedAt: created, StartedAt: &created, BytesUp: 7}
	big := small
	big.Error = strings.Repeat("é", maxNoticeBytes) // only the id fits
	tests := []struct {
		name        string
		ev          Event
		wantSession bool
	}{
		{"created with its session", Event{Kind: EventKindCreated, Session: small}, true},
		{"changed with its session", Event{Kind: EventKindChanged, Session: small}, true},
		{"ended too large: the id only", Event{Kind: EventKindEnded, Session: big}, false},
		{"resync", Event{Kind: noticeKindResync}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payload, err := encodeNotice("node-a", tc.ev)
			if err != nil {
				t.Fatal(err)
			}
			if len(payload) > maxNoticeBytes {
				t.Fatalf("notice of %d bytes, at most %d", len(payload), maxNoticeBytes)
			}
			n, err := decodeNotice(payload)
			if err != nil {
				t.Fatalf("decode %s: %v", payload, err)
			}
			if n.Node != "node-a" || n.Kind != tc.ev.Kind || n.ID != tc.ev.Session.ID {
				t.Fatalf("decoded %+v from event %s of %q", n, tc.ev.Kind, tc.ev.Session.ID)
			}
			if (n.Session != nil) != tc.wantSession {
				t.Fatalf("session carried: %v, want %v", n.Session != nil, tc.wantSession)
			}
			if n.Session != nil {
				got, _ := json.Marshal(n.Session)
				want, _ := json.Marshal(tc.ev.Session)
				if string(got) != string(want) {
					t.Fatalf("session %s, want %s", got, want)
				}
			}
		})
	}
	t.Run("a node id too long for a notice", func(t *testing.T) {
		if _, err := encodeNotice(strings.Repeat("n", maxNoticeID+1), Event{Kind: EventKindCreated, Session: small}); err == nil {
			t.Fatal("encoded a notice its receivers drop")
		}
	})
}

func TestDecodeNoticeRejects(t *testing.T) {
	tests := []struct {
		name, payload, wantErr string
	}{
		{"not JSON", "created " + testSessionID, "notice:"},
		{"truncated", `{"v":1,"node":"a","kind":"crea`, "notice:"},
		{"trailing data", `{"v":1,"node":"a","kind":"resync"} {}`, "notice:"},
		{"wrong types", `{"v":"1","node":"a","kind":"created","id":"x"}`, "notice:"},
		{"no version", `{"node":"a","kind":"created","id":"x"}`, "version 0"},
		{"another version", `{"v":2,"node":"a","kind":"created","id":"x"}`, "version 2"},
		{"no node", `{"v":1,"kind":"created","id":"x"}`, "node id"},
		{"node id too long", `{"v":1,"node":"` + strings.Repeat("n", 65) + `","kind":"created","id":"x"}`, "node id"},
		{"unknown kind", `{"v":1,"node":"a","kind":"deleted","id":"x"}`, `kind "deleted"`},
		{"no session id", `{"v":1,"node":"a","kind":"ended"}`, "session id"},
		{"session id too long", `{"v":1,"node":"a","kind":"ended","id":"` + strings.Repeat("s", 65) + `"}`, "session id"},
		{"another session inside", `{"v":1,"node":"a","kind":"ended","id":"x","session":{"id":"y"}}`, `carries session "y"`},
		{"resync with a session", `{"v":1,"node":"a","kind":"resync","id":"x"}`, "resync notice"},
		{"too large", `{"v":1,"node":"a","kind":"resync","pad":"` + strings.Repeat("p", 8000) + `"}`, "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := decodeNotice(tc.payload)
			if err == nil {
				t.Fatalf("accepted %+v", n)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not say %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzDecodeNotice feeds the decoder what the database might hand a
// listener: it never panics, and what it accepts is a notice this binary
// could have sent (it encodes again to the same node, kind and id).
// Seeds: testdata/fuzz/FuzzDecodeNotice.
func FuzzDecodeNotice(f *testing.F) {
	f.Add(`{"v":1,"node":"a","kind":"created","id":"` + testSessionID + `"}`)
	f.Fuzz(func(t *testing.T, payload string) {
		n, err := decodeNotice(payload)
		if err != nil {
			return
		}
		switch {
		case n.V != noticeVersion, n.Node == "", len(n.Node) > maxNoticeID:
			t.Fatalf("accepted %+v", n)
		case n.Kind == noticeKindResync && (n.ID != "" || n.Session != nil):
			t.Fatalf("accepted a resync with a session: %+v", n)
		case n.Kind != noticeKindResync && (n.ID == "" || n.Session != nil && n.Session.ID != n.ID):
			t.Fatalf("accepted an event without its id: %+v", n)
		}
		if n.Session == nil {
			return
		}
		again, err := encodeNotice(n.Node, Event{Kind: n.Kind, Session: *n.Session})
		if err != nil {
			t.Fatalf("accepted %q but cannot send it again: %v", payload, err)
		}
		m, err := decodeNotice(again)
		if err != nil || m.Node != n.Node || m.Kind != n.Kind || m.ID != n.ID {
			t.Fatalf("%q encoded again as %q: %+v, %v", payload, again, m, err)
		}
	})
}
