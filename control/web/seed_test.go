package web_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// seeded names the sessions seedRecordings wrote, one per player.
type seeded struct {
	Cast, Query, HAR, Expired string
	Desk                      string // a VNC session's deskproto recording (deskRecording)
}

// seedRecordings prepares a control data directory with finished sessions
// whose recordings are in the stored form the agents upload: an SSH
// session (asciicast, "first screen" at 1 s, "second screen" at 5 s, "the
// end" at 30 s), a database session (query log), an HTTP session (HAR) and
// an SSH session whose recording expired.
func seedRecordings(t *testing.T, dataDir string) seeded {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dataDir, "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, err := recordings.NewDir(filepath.Join(dataDir, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-time.Hour)
	n := 0
	mk := func(typ api.SessionType, resource string, format api.RecordingFormat, data []byte, state api.RecordingState) string {
		t.Helper()
		n++
		at := start.Add(time.Duration(n) * time.Minute)
		s := api.Session{ID: store.IDAt(at), User: "alice", Type: typ, Status: api.StatusPending, Resource: resource, Agent: "seed-agent",
			Login: "root", ClientIP: "192.0.2.10", CreatedAt: at}
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		for _, tr := range []store.Transition{{To: api.StatusActive, At: at.Add(time.Second), Agent: "seed-agent"}, {To: api.StatusCompleted, At: at.Add(40 * time.Second)}} {
			if _, err := st.Transition(ctx, s.ID, tr); err != nil {
				t.Fatal(err)
			}
		}
		rec := api.Recording{Format: format, State: state, Size: int64(len(data)), Available: state != api.RecordingExpired}
		if data != nil {
			if _, err := recs.WriteAt(ctx, s.ID, format, 0, data, true); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.SetRecording(ctx, s.ID, rec); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}

	var cast bytes.Buffer
	r, err := asciicast.NewRecorder(&cast, asciicast.Header{Width: 80, Height: 24, Timestamp: start.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	r.Output(time.Second, []byte("first screen\r\n$ "))
	r.Input(3*time.Second, []byte("clear\r"))
	r.Output(5*time.Second, []byte("\x1b[2J\x1b[Hsecond screen\r\n$ "))
	r.Output(30*time.Second, []byte("the end\r\n"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	query := strings.Join([]string{
		`{"t":0.25,"conn":1,"database":"app","user":"app","kind":"query","statement":"select 1","duration":0.0004,"rows":1}`,
		`{"t":1.5,"conn":1,"database":"app","user":"app","kind":"execute","statement":"update accounts set plan = $1 where id = $2","params":["pro",42],"duration":0.002,"rows":1}`,
		`{"t":2,"conn":1,"database":"app","user":"app","kind":"query","statement":"select * from missing","duration":0.001,"rows":0,"error_code":"42P01","error":"relation \"missing\" does not exist"}`,
	}, "\n") + "\n"
	har, err := os.ReadFile(filepath.Join("..", "..", "recordfmt", "har", "testdata", "session.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return seeded{
		Cast:    mk(api.TypeSSH, "web-1", api.FormatAsciicast, cast.Bytes(), api.RecordingComplete),
		Query:   mk(api.TypeDB, "pg-main", api.FormatQuerylog, []byte(query), api.RecordingComplete),
		HAR:     mk(api.TypeHTTP, "grafana", api.FormatHAR, har, api.RecordingComplete),
		Expired: mk(api.TypeSSH, "web-1", api.FormatAsciicast, nil, api.RecordingExpired),
		Desk:    mk(api.TypeVNC, "desk-1", api.FormatDeskproto, deskRecording(t, start), api.RecordingComplete),
	}
}
