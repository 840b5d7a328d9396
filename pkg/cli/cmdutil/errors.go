package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

// Exit codes of the onepam command. They are part of the CLI's contract
// (docs/cli.md).
const (
	ExitOK           = 0 // success
	ExitError        = 1 // any other error
	ExitUsage        = 2 // bad flags or arguments
	ExitAuth         = 3 // not logged in, or the token is unknown, expired or revoked
	ExitDenied       = 4 // the role or policy forbids it
	ExitNotFound     = 5 // no such session, user, token, agent, resource or rule
	ExitTargetFailed = 6 // the agent is offline (or attached to another control node) or the target cannot be reached
	ExitTerminated   = 7 // the session was terminated by an administrator
	ExitUnreachable  = 8 // control cannot be reached
)

// ExitCodesHelp documents the exit codes (for --help).
const ExitCodesHelp = `Exit codes:
  0  success
  1  error
  2  usage: bad flags or arguments
  3  not authenticated: not logged in, or the token is unknown, expired or revoked
  4  denied by role or policy
  5  not found
  6  target failed: the agent is offline or the target cannot be reached
  7  the session was terminated by an administrator
  8  control cannot be reached`

// loginHint ends the messages of authentication errors.
const loginHint = "run onepam login --control URL --token TOKEN"

// ErrNotLoggedIn is returned when no control URL or token is configured.
var ErrNotLoggedIn = errors.New("not logged in: " + loginHint)

// FlagError is a usage error: bad flags or arguments (exit code 2).
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf returns a usage error.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExitStatusError carries the exit status of a command onepam ran for the
// person (e.g. `onepam db connect pg -- psql`): onepam exits with the same
// status and prints nothing more.
type ExitStatusError struct{ Code int }

func (e *ExitStatusError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ExitCode maps err to the process's exit code. It is the only place that
// does.
func ExitCode(err error) int {
	code, _ := Classify(err)
	return code
}

// Classify returns err's exit code and the one-line message to print.
func Classify(err error) (int, string) {
	if err == nil {
		return ExitOK, ""
	}
	var fe *FlagError
	var ne *client.NetworkError
	var ae *api.Error
	var es *ExitStatusError
	switch {
	case errors.As(err, &es):
		return es.Code, ""
	case errors.As(err, &fe):
		return ExitUsage, err.Error()
	case errors.Is(err, ErrNotLoggedIn), errors.Is(err, client.ErrUnknownCA):
		return ExitAuth, err.Error()
	case errors.As(err, &ne):
		return ExitUnreachable, err.Error()
	case errors.As(err, &ae):
		return classifyAPI(err, ae)
	case errors.Is(err, context.Canceled):
		return ExitError, "interrupted"
	case isCobraUsage(err):
		return ExitUsage, err.Error()
	}
	return ExitError, err.Error()
}

func classifyAPI(err error, ae *api.Error) (int, string) {
	msg := err.Error()
	switch ae.Code {
	case api.CodeUnauthenticated:
		if strings.Contains(msg, "onepam login") {
			return ExitAuth, "not authenticated: " + msg
		}
		return ExitAuth, "not authenticated: " + msg + ": " + loginHint
	case api.CodeForbidden:
		return ExitDenied, "denied: " + msg
	case api.CodeNotFound:
		return ExitNotFound, msg
	case api.CodeTargetFailed:
		return ExitTargetFailed, msg
	case api.CodeOtherNode:
		// The target cannot be reached through this control node.
		return ExitTargetFailed, msg
	case api.CodeTerminated:
		return ExitTerminated, msg
	case api.CodeInvalid:
		return ExitError, "invalid request: " + msg
	case api.CodeUnavailable:
		return ExitError, "control is unavailable: " + msg + ": try again shortly"
	}
	return ExitError, msg
}

// isCobraUsage recognises the usage errors cobra itself returns.
func isCobraUsage(err error) bool {
	m := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "required flag"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}
