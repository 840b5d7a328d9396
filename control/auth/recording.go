package auth

import "github.com/onepam/onepam/pkg/api"

// CheckRecording returns nil when p may read the recording of a session
// owned by owner (replay, export, frames, verify, watch, file activity,
// search), and a CodeForbidden *api.Error naming the reason otherwise.
// Admins and auditors read every recording; a user reads those of its own
// sessions, and only when usersOwn (the recording-access setting) allows
// it. Searching, which reads a user's own recordings only, is checked with
// owner = p.User.
func CheckRecording(p Principal, owner string, usersOwn bool) error {
	switch ScopeOf(p.Role, SessionsReplay) {
	case ScopeAll:
		return nil
	case ScopeOwn:
		if owner != p.User {
			return api.Errorf(api.CodeForbidden, "user %q (role %s) may read only the recordings of its own sessions, not those of %q", p.User, p.Role, owner)
		}
		if !usersOwn {
			return api.Errorf(api.CodeForbidden, "users may not read the recordings of their own sessions on this control server (an admin allows it with onepam settings recording-access set --users-own on)")
		}
		return nil
	}
	return api.Errorf(api.CodeForbidden, "role %s of user %q does not allow reading recordings", p.Role, p.User)
}
