package agent

import "errors"

// ErrRevoked is returned by Run when control says the agent was revoked.
// The agent does not reconnect after it.
var ErrRevoked = errors.New("this agent was removed from control (revoked); enroll it again with a new token: onepam agents token create")

// ErrNotEnrolled is returned by Run when the data directory holds no
// identity and no enrollment token was given.
var ErrNotEnrolled = errors.New("this agent is not enrolled: pass an enrollment token (--token, from onepam agents token create) and the control address (--control)")
