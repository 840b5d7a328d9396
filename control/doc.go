// Package control is the OnePAM control server: it wires the API (package
// control/api), the session manager (control/sessions), the agent gateway
// (control/agentgw), the database (control/store/sqlite), the CA
// (control/pki), recordings (control/recordings) and metrics into one
// Server with New, Serve and Close.
//
// Data directory (docs/ARCHITECTURE.md §2): ca.crt, ca.key, server.crt,
// server.key, onepam.db (SQLite WAL) and recordings/.
//
// On the first start (no users) New creates the user "admin" (role admin)
// with a non-expiring API token, returned once by FirstAdminToken, and the
// seed policy rule "role:admin may use every resource with any login".
// Every start fails the sessions a previous run left pending or active
// ("interrupted: control restarted").
package control
