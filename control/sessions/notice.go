package sessions

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/onepam/onepam/pkg/api"
)

// A notice is one session event as it travels between the control nodes
// sharing a database (relay.go): a JSON object small enough for one
// PostgreSQL NOTIFY payload.
//
//	{"v":1,"node":"<node id>","kind":"created","id":"<session id>","session":{…}}
//
// The session is left out when the notice would not fit with it; a
// receiver then reads the row from the database. Kind "resync" (no id)
// says the sending node lost events it could not send: receivers tell
// their subscribers to reload.
type notice struct {
	V       int          `json:"v"`
	Node    string       `json:"node"`
	Kind    string       `json:"kind"`
	ID      string       `json:"id,omitempty"`
	Session *api.Session `json:"session,omitempty"`
}

// noticeVersion is the version of the notice format this binary writes
// and reads; a receiver drops notices of another version.
const noticeVersion = 1

// noticeKindResync is the kind of a notice that carries no event: the
// sender lost events (relay.go).
const noticeKindResync = "resync"

// maxNoticeBytes is the largest notice sent or accepted: PostgreSQL's
// NOTIFY payload must be shorter than 8000 bytes (its default build),
// with room to spare.
const maxNoticeBytes = 7900

// maxNoticeID bounds a node or session id in a notice (node ids are at
// most 64 characters, session ids 36).
const maxNoticeID = 64

// errNoticeTooLarge: even without its session, the notice does not fit.
var errNoticeTooLarge = errors.New("session event notice too large")

// encodeNotice returns the notice of node's event ev: with the session
// when it fits in maxNoticeBytes, else with its id only.
func encodeNotice(node string, ev Event) (string, error) {
	n := notice{V: noticeVersion, Node: node, Kind: ev.Kind, ID: ev.Session.ID, Session: &ev.Session}
	if ev.Kind == noticeKindResync {
		n.ID, n.Session = "", nil
	}
	b, err := json.Marshal(n)
	if err != nil {
		return "", fmt.Errorf("encode session event notice: %w", err)
	}
	if len(b) > maxNoticeBytes && n.Session != nil {
		n.Session = nil
		if b, err = json.Marshal(n); err != nil {
			return "", fmt.Errorf("encode session event notice: %w", err)
		}
	}
	if len(b) > maxNoticeBytes {
		return "", fmt.Errorf("%w: %d bytes (at most %d)", errNoticeTooLarge, len(b), maxNoticeBytes)
	}
	if _, err := decodeNotice(string(b)); err != nil {
		return "", fmt.Errorf("encode session event notice: %w", err)
	}
	return string(b), nil
}

// decodeNotice parses and checks a notice received from the database.
// Anything malformed is an error: the receiver drops it.
func decodeNotice(payload string) (notice, error) {
	if len(payload) > maxNoticeBytes {
		return notice{}, fmt.Errorf("notice of %d bytes: at most %d", len(payload), maxNoticeBytes)
	}
	var n notice
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return notice{}, fmt.Errorf("notice: %w", err)
	}
	if n.V != noticeVersion {
		return notice{}, fmt.Errorf("notice version %d: want %d", n.V, noticeVersion)
	}
	if n.Node == "" || len(n.Node) > maxNoticeID {
		return notice{}, fmt.Errorf("notice node id of %d bytes: want 1 to %d", len(n.Node), maxNoticeID)
	}
	switch n.Kind {
	case EventKindCreated, EventKindChanged, EventKindEnded:
	case noticeKindResync:
		if n.ID != "" || n.Session != nil {
			return notice{}, errors.New("resync notice with a session")
		}
		return n, nil
	default:
		return notice{}, fmt.Errorf("notice kind %q: want created, changed, ended or resync", n.Kind)
	}
	if n.ID == "" || len(n.ID) > maxNoticeID {
		return notice{}, fmt.Errorf("notice session id of %d bytes: want 1 to %d", len(n.ID), maxNoticeID)
	}
	if n.Session != nil && n.Session.ID != n.ID {
		return notice{}, fmt.Errorf("notice of session %q carries session %q", n.ID, n.Session.ID)
	}
	return n, nil
}
