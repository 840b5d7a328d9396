package api

import "fmt"

// SessionStatus is the lifecycle state of a session.
//
//	pending → active → completed | terminated | failed
//	pending → terminated | failed
//
// Nothing leaves a terminal state. CheckTransition is the only place that
// decides which moves are legal; every writer of a session's status goes
// through it.
type SessionStatus string

// The session states.
const (
	StatusPending    SessionStatus = "pending"    // created after authentication and policy
	StatusActive     SessionStatus = "active"     // the agent reached the target; recording runs
	StatusCompleted  SessionStatus = "completed"  // the person disconnected normally
	StatusTerminated SessionStatus = "terminated" // an administrator ended it
	StatusFailed     SessionStatus = "failed"     // the target was unreachable or the connection broke
)

// SessionStatuses lists every state in lifecycle order.
var SessionStatuses = []SessionStatus{StatusPending, StatusActive, StatusCompleted, StatusTerminated, StatusFailed}

// Valid reports whether s is a known state.
func (s SessionStatus) Valid() bool {
	for _, v := range SessionStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// Terminal reports whether s is a final state.
func (s SessionStatus) Terminal() bool {
	return s == StatusCompleted || s == StatusTerminated || s == StatusFailed
}

// ParseSessionStatus parses a state name.
func ParseSessionStatus(v string) (SessionStatus, error) {
	s := SessionStatus(v)
	if !s.Valid() {
		return "", fmt.Errorf("unknown session status %q (want pending, active, completed, terminated or failed)", v)
	}
	return s, nil
}

// ErrIllegalTransition is wrapped by CheckTransition's errors.
var ErrIllegalTransition = fmt.Errorf("illegal session transition")

// CheckTransition returns nil when a session may move from one state to
// the other, and an error wrapping ErrIllegalTransition otherwise.
func CheckTransition(from, to SessionStatus) error {
	ok := false
	switch from {
	case StatusPending:
		ok = to == StatusActive || to == StatusTerminated || to == StatusFailed
	case StatusActive:
		ok = to == StatusCompleted || to == StatusTerminated || to == StatusFailed
	}
	if !ok {
		return fmt.Errorf("%w: %s → %s", ErrIllegalTransition, from, to)
	}
	return nil
}
