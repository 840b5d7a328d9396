package api

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrorCode classifies an API error. The CLI maps codes to exit codes.
type ErrorCode string

// The error codes.
const (
	CodeInvalid         ErrorCode = "invalid"         // 400: bad request body or parameters
	CodeUnauthenticated ErrorCode = "unauthenticated" // 401: no, unknown, expired or revoked token
	CodeForbidden       ErrorCode = "forbidden"       // 403: role or policy denies it
	CodeNotFound        ErrorCode = "not_found"       // 404
	CodeConflict        ErrorCode = "conflict"        // 409: already exists, already ended
	CodeTargetFailed    ErrorCode = "target_failed"   // 502: agent offline or target unreachable
	CodeTerminated      ErrorCode = "terminated"      // 410: the session was terminated
	CodeUnavailable     ErrorCode = "unavailable"     // 503: shutting down
	CodeOtherNode       ErrorCode = "other_node"      // 421: the agent or session is held by another control node (named in the message)
	CodeInternal        ErrorCode = "internal"        // 500
)

// HTTPStatus returns the HTTP status that carries c.
func (c ErrorCode) HTTPStatus() int {
	switch c {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeTargetFailed:
		return http.StatusBadGateway
	case CodeTerminated:
		return http.StatusGone
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeOtherNode:
		return http.StatusMisdirectedRequest
	default:
		return http.StatusInternalServerError
	}
}

// Error is an API error; it is also the JSON body of every non-2xx answer:
// {"error": {"code": "...", "message": "..."}}.
type Error struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// ErrorBody is the JSON envelope of an error answer.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// Errorf makes an *Error.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or
// CodeInternal.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
