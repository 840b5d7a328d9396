// Package client is the Go client of control's HTTPS API (the routes under
// /v1/ described in docs/ARCHITECTURE.md). The CLI and the tests use it.
//
// Every connection verifies control's certificate against control's CA:
// either the CA certificate saved at `onepam login` (Config.CAPEM, hostname
// checked) or, on first contact, a CA pin (Config.CAPin, "sha256:<hex>").
// Errors answered by control are returned as *api.Error (so api.CodeOf
// works); failures to reach control at all are returned as *NetworkError.
//
// Connect upgrades GET /v1/sessions/{id}/connect to a raw byte stream (the
// "onepam-session/1" protocol) for the events and data channels of a session.
package client
