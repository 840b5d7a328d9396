package agentgw

import (
	"errors"
	"fmt"

	"github.com/onepam/onepam/pkg/api"
)

// ErrAgentOffline is matched (errors.Is) by the error OpenStream returns
// when the agent has no live connection. The same error also carries an
// *api.Error with api.CodeTargetFailed (api.CodeOf).
var ErrAgentOffline = errors.New("agent offline")

type offlineError struct {
	agentID string
	cause   error // why, when the session died under us; may be nil
}

func (e *offlineError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("agent %s is offline: %v", e.agentID, e.cause)
	}
	return fmt.Sprintf("agent %s is offline", e.agentID)
}

func (e *offlineError) Is(target error) bool { return target == ErrAgentOffline }

func (e *offlineError) Unwrap() error {
	return &api.Error{Code: api.CodeTargetFailed, Message: e.Error()}
}
