package api

import (
	"fmt"
	"strings"
)

// SessionType names the protocol of a session and of a resource. The same
// lowercase names are used in the API, the CLI, the JSON output and the
// database.
type SessionType string

// The session types.
const (
	TypeSSH  SessionType = "ssh"
	TypeRDP  SessionType = "rdp"
	TypeVNC  SessionType = "vnc"
	TypeDB   SessionType = "db"
	TypeHTTP SessionType = "http"
	TypeTCP  SessionType = "tcp"
)

// SessionTypes lists every session type in display order.
var SessionTypes = []SessionType{TypeSSH, TypeRDP, TypeVNC, TypeDB, TypeHTTP, TypeTCP}

// Valid reports whether t is one of SessionTypes.
func (t SessionType) Valid() bool {
	for _, v := range SessionTypes {
		if v == t {
			return true
		}
	}
	return false
}

// ParseSessionType parses a session type name (case-insensitive).
func ParseSessionType(s string) (SessionType, error) {
	t := SessionType(strings.ToLower(strings.TrimSpace(s)))
	if !t.Valid() {
		return "", fmt.Errorf("unknown session type %q (want one of ssh, rdp, vnc, db, http, tcp)", s)
	}
	return t, nil
}

// RecordingFormat names the native format of a session recording.
type RecordingFormat string

// The recording formats, one per session type family.
const (
	FormatAsciicast RecordingFormat = "asciicast" // ssh: asciicast v2 (.cast)
	FormatDeskproto RecordingFormat = "deskproto" // rdp, vnc
	FormatQuerylog  RecordingFormat = "querylog"  // db: JSON lines
	FormatHAR       RecordingFormat = "har"       // http: HAR 1.2
	FormatConnlog   RecordingFormat = "connlog"   // tcp: JSON lines
)

// RecordingFormatFor returns the recording format used for sessions of type t.
func RecordingFormatFor(t SessionType) RecordingFormat {
	switch t {
	case TypeSSH:
		return FormatAsciicast
	case TypeRDP, TypeVNC:
		return FormatDeskproto
	case TypeDB:
		return FormatQuerylog
	case TypeHTTP:
		return FormatHAR
	default:
		return FormatConnlog
	}
}

// Role is a user's role. Roles are fixed; policy rules decide which
// resources a role or a user may connect to.
type Role string

// The roles.
const (
	// RoleAdmin may do everything, including user, token, agent and policy
	// administration and terminating sessions.
	RoleAdmin Role = "admin"
	// RoleAuditor may list, show, watch, replay and export every session and
	// read the audit log; it never connects and never terminates.
	RoleAuditor Role = "auditor"
	// RoleUser connects where policy allows and sees only its own sessions.
	RoleUser Role = "user"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleAuditor || r == RoleUser }

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q (want admin, auditor or user)", s)
	}
	return r, nil
}
