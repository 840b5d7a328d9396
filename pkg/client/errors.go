package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/onepam/onepam/pkg/api"
)

// NetworkError reports that control could not be reached (DNS, refused
// connection, TLS failure, broken connection). It is distinct from the
// errors control answers (*api.Error).
type NetworkError struct {
	URL string // control's base URL
	Err error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("cannot reach control at %s: %v", e.URL, e.Err)
}

// Unwrap returns the underlying error.
func (e *NetworkError) Unwrap() error { return e.Err }

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// decodeError turns a non-2xx answer into an *api.Error. A body that is not
// an api.ErrorBody still yields an error whose code follows the HTTP status.
func decodeError(status int, statusText string, body io.Reader) *api.Error {
	raw, _ := io.ReadAll(io.LimitReader(body, maxErrorBody))
	var eb api.ErrorBody
	if err := json.Unmarshal(raw, &eb); err == nil && eb.Error != nil && eb.Error.Code != "" {
		return eb.Error
	}
	msg := fmt.Sprintf("control answered %d %s", status, statusText)
	return &api.Error{Code: codeForStatus(status), Message: msg}
}

// codeForStatus maps an HTTP status to the error code that carries it.
func codeForStatus(status int) api.ErrorCode {
	switch status {
	case http.StatusBadRequest:
		return api.CodeInvalid
	case http.StatusUnauthorized:
		return api.CodeUnauthenticated
	case http.StatusForbidden:
		return api.CodeForbidden
	case http.StatusNotFound:
		return api.CodeNotFound
	case http.StatusConflict:
		return api.CodeConflict
	case http.StatusBadGateway:
		return api.CodeTargetFailed
	case http.StatusGone:
		return api.CodeTerminated
	case http.StatusServiceUnavailable:
		return api.CodeUnavailable
	case http.StatusMisdirectedRequest:
		return api.CodeOtherNode
	}
	return api.CodeInternal
}
