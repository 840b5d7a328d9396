package control

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	controlapi "github.com/onepam/onepam/control/api"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

// TestRecordingReadForwarded runs three control nodes sharing a CA on one
// PostgreSQL database, each with dir recording storage in its own data
// dir. A session carried by A is recorded in A's data dir only; once it
// ended, its recording is read through B (replay, export, the stored
// container, verify, watch), which forwards each read to A: the answers
// are A's bytes, and A audits each read once. A forwarded read is not
// forwarded again, C (which cannot reach A) and B once A stopped answer
// other_node naming A and why.
func TestRecordingReadForwarded(t *testing.T) {
	ctx := context.Background()
	fc := startForwardCluster(t)
	a, b, c, token := fc.a, fc.b, fc.c, fc.token
	viaA, viaB, viaC := a.client(t, token), b.client(t, token), c.client(t, token)

	// A session carried by A, run through B, ended, its recording final.
	s, err := viaB.CreateSession(ctx, api.CreateSessionRequest{Resource: "echo"})
	if err != nil {
		t.Fatal(err)
	}
	if s.NodeID != a.NodeID() {
		t.Fatalf("session on node %q, want A's %q", s.NodeID, a.NodeID())
	}
	events, _ := echoSession(ctx, t, viaB, s.ID, 16<<10)
	events.Close()
	waitFor(t, "the session completed with its recording stored", func() (api.Session, bool) {
		got, err := viaA.GetSession(ctx, s.ID)
		return got, err == nil && got.Status == api.StatusCompleted && got.Recording.State == api.RecordingComplete
	})

	readAll := func(t *testing.T, rc io.ReadCloser, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	download := func(t *testing.T, c *client.Client, format string) []byte {
		t.Helper()
		d, err := c.RecordingAs(ctx, s.ID, format)
		return readAll(t, d.Body, err)
	}
	watch := func(t *testing.T, c *client.Client) []byte {
		t.Helper()
		rc, _, err := c.Watch(ctx, s.ID, false)
		return readAll(t, rc, err)
	}
	reads := []struct {
		name   string
		action string // audited by A
		read   func(t *testing.T, c *client.Client) []byte
	}{
		{"replay", "recording.read", func(t *testing.T, c *client.Client) []byte {
			rc, err := c.Recording(ctx, s.ID)
			return readAll(t, rc, err)
		}},
		{"export native", "recording.export", func(t *testing.T, c *client.Client) []byte { return download(t, c, "native") }},
		{"export container", "recording.export", func(t *testing.T, c *client.Client) []byte { return download(t, c, "container") }},
		{"verify", "recording.verify", func(t *testing.T, c *client.Client) []byte {
			v, err := c.VerifyRecording(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !v.Intact {
				t.Fatalf("verification %+v: want intact", v)
			}
			return []byte(v.Status + "\n" + v.Message)
		}},
		{"watch of the ended session", "session.watch", watch},
	}
	audited := func(t *testing.T, action string) int {
		t.Helper()
		evs, err := viaA.ListAudit(ctx, client.AuditQuery{Action: action, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Target == s.ID && e.Outcome == api.OutcomeSuccess {
				if e.ClientIP != "127.0.0.1" {
					t.Errorf("%s audited from %q, want the person's 127.0.0.1", action, e.ClientIP)
				}
				n++
			}
		}
		return n
	}
	for _, rd := range reads {
		t.Run(rd.name+" through B", func(t *testing.T) {
			want := rd.read(t, viaA)
			if len(want) == 0 {
				t.Fatal("A read an empty recording")
			}
			before := audited(t, rd.action)
			if got := rd.read(t, viaB); !bytes.Equal(got, want) {
				t.Fatalf("through B: %d bytes, want A's %d bytes", len(got), len(want))
			}
			if after := audited(t, rd.action); after != before+1 {
				t.Fatalf("%s audited %d times for the read through B, want once", rd.action, after-before)
			}
		})
	}

	t.Run("the recording is in A's storage only", func(t *testing.T) {
		if _, err := b.recs.Open(ctx, s.ID, api.FormatConnlog); err == nil {
			t.Fatal("B's storage holds the recording: nothing was forwarded")
		}
	})

	t.Run("a forwarded read is not forwarded again", func(t *testing.T) {
		status, body := rawRequest(t, b, http.MethodGet, "/v1/sessions/"+s.ID+"/recording", token, nil,
			map[string]string{controlapi.HeaderForwardedBy: "node-x"})
		for _, want := range []string{`"other_node"`, "control node control-a (" + a.NodeID() + ")", "forwarded here by control node node-x", "--kind s3"} {
			if status != http.StatusMisdirectedRequest || !strings.Contains(string(body), want) {
				t.Fatalf("%d %s: want 421 with %q", status, body, want)
			}
		}
	})

	t.Run("a node that cannot reach A", func(t *testing.T) {
		_, err := viaC.Recording(ctx, s.ID)
		wantAPIError(t, err, api.CodeOtherNode, "session "+s.ID+" ran on control node control-a ("+a.NodeID()+")",
			"not on this one (control-c", "could not be reached", "test: no route to control-a", "share S3 recording storage")
		_, err = viaC.VerifyRecording(ctx, s.ID)
		wantAPIError(t, err, api.CodeOtherNode, "control node control-a", "test: no route to control-a")
		_, _, err = viaC.Watch(ctx, s.ID, false)
		wantAPIError(t, err, api.CodeOtherNode, "control node control-a", "test: no route to control-a")
	})

	t.Run("A stopped", func(t *testing.T) {
		a.stop(t)
		_, err := viaB.Recording(ctx, s.ID)
		wantAPIError(t, err, api.CodeOtherNode, "ran on control node "+a.NodeID(), "that node is not running", "share S3 recording storage")
	})
}
