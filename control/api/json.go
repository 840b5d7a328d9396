package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// maxBody limits request bodies.
const maxBody = 1 << 20

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(api.ErrorBody{Error: api.Errorf(api.CodeInternal, "encode answer: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// toAPIError maps an error to the API error it is answered with.
func toAPIError(err error) *api.Error {
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return &api.Error{Code: api.CodeNotFound, Message: err.Error()}
	case errors.Is(err, store.ErrConflict):
		return &api.Error{Code: api.CodeConflict, Message: err.Error()}
	case errors.Is(err, store.ErrInvalid):
		return &api.Error{Code: api.CodeInvalid, Message: err.Error()}
	case errors.Is(err, api.ErrIllegalTransition):
		return &api.Error{Code: api.CodeConflict, Message: err.Error()}
	}
	return &api.Error{Code: api.CodeInternal, Message: "internal error: " + err.Error()}
}

// writeError answers err as an api.ErrorBody with the status of its code.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.Code == api.CodeInternal {
		h.cfg.Logger.Error("request failed", "request_id", requestID(r.Context()), "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, ae.Code.HTTPStatus(), api.ErrorBody{Error: ae})
}

// decodeJSON reads a JSON request body into v: at most 1 MiB, one object,
// no unknown fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return api.Errorf(api.CodeInvalid, "empty request body: want a JSON object")
		case errors.As(err, &mbe):
			return api.Errorf(api.CodeInvalid, "request body larger than %d bytes", maxBody)
		case errors.As(err, &se):
			return api.Errorf(api.CodeInvalid, "malformed JSON at byte %d: %v", se.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return api.Errorf(api.CodeInvalid, "unknown field %s in request body", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case errors.As(err, &te):
			return api.Errorf(api.CodeInvalid, "field %q: want a JSON %s, got %s", te.Field, te.Type, te.Value)
		}
		return api.Errorf(api.CodeInvalid, "bad request body: %v", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return api.Errorf(api.CodeInvalid, "request body holds trailing data after the JSON object")
	}
	return nil
}

// notFound makes a not_found error for kind and name.
func notFound(kind, name string) error {
	return api.Errorf(api.CodeNotFound, "%s %q not found", kind, name)
}
