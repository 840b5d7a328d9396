package agent

import "fmt"

// State is the state of the agent's link to control.
//
//	disconnected → connecting → connected → disconnected → connecting …
//	connecting → disconnected (the attempt failed)
//	disconnected | connecting | connected → stopped (Run's context ended)
//	connecting | connected → revoked (control said the agent is revoked)
//
// stopped and revoked are final.
type State int

// The link states.
const (
	StateDisconnected State = iota
	StateConnecting
	StateConnected
	StateStopped
	StateRevoked
)

func (s State) String() string {
	switch s {
	case StateDisconnected:
		return "disconnected"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateStopped:
		return "stopped"
	case StateRevoked:
		return "revoked"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// checkStateTransition returns an error unless the link may move from one
// state to the other.
func checkStateTransition(from, to State) error {
	ok := false
	switch from {
	case StateDisconnected:
		ok = to == StateConnecting || to == StateStopped
	case StateConnecting:
		ok = to == StateConnected || to == StateDisconnected || to == StateStopped || to == StateRevoked
	case StateConnected:
		ok = to == StateDisconnected || to == StateStopped || to == StateRevoked
	}
	if !ok {
		return fmt.Errorf("illegal agent link transition %s → %s", from, to)
	}
	return nil
}
