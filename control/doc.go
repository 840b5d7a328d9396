// Package control is the OnePAM control server: it wires the API (package
// control/api), the session manager (control/sessions), the agent gateway
// (control/agentgw), the database (control/store/sqlite, or
// control/store/postgres shared by several control nodes), the CA
// (control/pki), recordings (control/recordings) and metrics into one
// Server with New, Serve and Close.
//
// Data directory (docs/ARCHITECTURE.md §2): ca.crt, ca.key, server.crt,
// server.key, onepam.db (SQLite WAL) and recordings/.
//
// On the first start (no users) New creates the user "admin" (role admin)
// with a non-expiring API token, returned once by FirstAdminToken, and the
// seed policy rule "role:admin may use every resource with any login".
//
// Each server is a control node (Config.NodeID, Config.NodeName) with a row
// in the database that it heartbeats while it serves and removes at a clean
// shutdown; sessions record the node that carries them and agents the node
// they are attached to. At start and periodically a node fails the pending
// and active sessions no live node carries: a previous run's
// ("interrupted: control restarted") and those of nodes that stopped
// without their shutdown ("interrupted: control node NAME (ID) stopped");
// the sessions of other live nodes are left alone. A request that needs
// an agent attached to (or a session carried by) another live node is
// forwarded to that node's advertised URL (Config.AdvertiseURL, in its
// row; forward.go: session create, connect, kill, watch), once; when it
// cannot be, create and connect get api.CodeOtherNode naming the node
// and the reason (docs/ARCHITECTURE.md, "Several control nodes").
package control
