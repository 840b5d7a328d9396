package storetest

import (
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func testFileEvents(t *testing.T, open func(t *testing.T) store.Store) {
	s, ctx := open(t), ctxT(t)
	a := newSession(base, api.TypeSSH, "alice", "web-1")
	b := newSession(base.Add(time.Second), api.TypeSSH, "bob", "web-1")
	must(t, s.CreateSession(ctx, a), "create a")
	must(t, s.CreateSession(ctx, b), "create b")
	evs := []api.FileEvent{
		{SessionID: a.ID, Time: base.Add(2 * time.Second), Protocol: "sftp", Op: api.FileOpUpload, Path: "/tmp/x", Bytes: 1234, Result: "ok"},
		{SessionID: a.ID, Time: base.Add(3 * time.Second), Protocol: "sftp", Op: api.FileOpRename, Path: "/tmp/x", Path2: "/tmp/y", Result: "ok"},
		{SessionID: b.ID, Time: base.Add(4 * time.Second), Protocol: "scp", Op: api.FileOpDownload, Path: "/etc/hosts", Bytes: 99, Result: "ok"},
		{SessionID: a.ID, Time: base.Add(5 * time.Second), Protocol: "sftp", Op: api.FileOpDelete, Path: "/root/z", Result: "error", Error: "permission denied"},
	}
	for _, e := range evs {
		must(t, s.AddFileEvent(ctx, e), "add "+e.Op)
	}
	for _, tc := range []struct {
		name string
		id   string
		ops  []string
		want []api.FileEvent
	}{
		{"all of a session, oldest first", a.ID, nil, []api.FileEvent{evs[0], evs[1], evs[3]}},
		{"one op", a.ID, []string{api.FileOpRename}, []api.FileEvent{evs[1]}},
		{"two ops", a.ID, []string{api.FileOpUpload, api.FileOpDelete}, []api.FileEvent{evs[0], evs[3]}},
		{"other session", b.ID, nil, []api.FileEvent{evs[2]}},
		{"no events", "0190b7a4-0000-7000-8000-000000000000", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListFileEvents(ctx, tc.id, tc.ops)
			must(t, err, "list")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d events, want %d: %+v", len(got), len(tc.want), got)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				sameTime(t, g.Time, w.Time, "time")
				g.Time, w.Time = time.Time{}, time.Time{}
				if g != w {
					t.Fatalf("event %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
	if err := s.AddFileEvent(ctx, api.FileEvent{Op: api.FileOpList}); err == nil {
		t.Fatal("event without a session accepted")
	}
}

func testSearch(t *testing.T, open func(t *testing.T) store.Store) {
	s, ctx := open(t), ctxT(t)
	older := newSession(base, api.TypeSSH, "alice", "web-1")
	newer := newSession(base.Add(time.Hour), api.TypeSSH, "bob", "web-2")
	tcp := newSession(base.Add(2*time.Hour), api.TypeTCP, "bob", "echo")
	for _, x := range []api.Session{older, newer, tcp} {
		must(t, s.CreateSession(ctx, x), "create")
	}
	must(t, s.IndexRecordingText(ctx, older.ID, []store.TextLine{
		{At: time.Second, Text: "alice@web-1:~$ cat /etc/passwd"},
		{At: 2 * time.Second, Text: "root:x:0:0:root:/root:/bin/bash"},
		{Input: true, At: 1500 * time.Millisecond, Text: "sudo rm -rf /var/cache/secret-files"},
	}), "index older")
	// Indexing a recording again replaces its text.
	must(t, s.IndexRecordingText(ctx, newer.ID, []store.TextLine{{At: time.Second, Text: "stale text of a first attempt"}}), "index newer")
	must(t, s.IndexRecordingText(ctx, newer.ID, []store.TextLine{
		{At: 90 * time.Second, Text: "Deploying release 42 to production"},
		{At: 95 * time.Second, Text: "root privileges required"},
	}), "index newer")
	must(t, s.IndexRecordingText(ctx, tcp.ID, []store.TextLine{{At: time.Second, Text: "root of a tcp session"}}), "index tcp")
	must(t, s.IndexRecordingText(ctx, tcp.ID, []store.TextLine{{At: time.Second, Text: "root of a tcp session"}}), "index tcp again")

	type hit struct {
		id string
		at time.Duration
	}
	for _, tc := range []struct {
		name string
		q    store.SearchQuery
		want []hit
	}{
		{"word in output, newest session first", store.SearchQuery{Text: "root", Types: []api.SessionType{api.TypeSSH}},
			[]hit{{newer.ID, 95 * time.Second}, {older.ID, 2 * time.Second}}},
		{"phrase", store.SearchQuery{Text: "release 42"}, []hit{{newer.ID, 90 * time.Second}}},
		{"replaced text is gone", store.SearchQuery{Text: "stale"}, nil},
		{"phrase words out of order do not match", store.SearchQuery{Text: "42 release"}, nil},
		{"case-insensitive", store.SearchQuery{Text: "DEPLOYING"}, []hit{{newer.ID, 90 * time.Second}}},
		{"typed input only", store.SearchQuery{Text: "secret", Input: true}, []hit{{older.ID, 1500 * time.Millisecond}}},
		{"input is not output", store.SearchQuery{Text: "secret"}, nil},
		{"FTS syntax is plain text", store.SearchQuery{Text: `root" OR "release`}, nil},
		{"user filter", store.SearchQuery{Text: "root", Users: []string{"alice"}}, []hit{{older.ID, 2 * time.Second}}},
		{"type filter", store.SearchQuery{Text: "root", Types: []api.SessionType{api.TypeTCP}}, []hit{{tcp.ID, time.Second}}},
		{"since", store.SearchQuery{Text: "root", Since: base.Add(30 * time.Minute), Types: []api.SessionType{api.TypeSSH}},
			[]hit{{newer.ID, 95 * time.Second}}},
		{"limit", store.SearchQuery{Text: "root", Limit: 1}, []hit{{tcp.ID, time.Second}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.SearchRecordings(ctx, tc.q)
			must(t, err, "search")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d hits, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, h := range got {
				if h.SessionID != tc.want[i].id || h.At != tc.want[i].at || h.Line == "" || h.Input != tc.q.Input {
					t.Fatalf("hit %d: got %+v, want %+v", i, h, tc.want[i])
				}
			}
		})
	}
	if _, err := s.SearchRecordings(ctx, store.SearchQuery{Text: " ;; "}); err == nil {
		t.Fatal("a search without words succeeded")
	}
}
