// Package api holds the wire types shared by the CLI, the control server and
// the agent: session types and states (with the one transition function),
// the JSON objects of the HTTP API under /v1/, the typed headers that open
// every yamux stream between control and an agent, and the messages of the
// agent's control channel.
//
// Everything here is part of a documented, stable contract: JSON field names
// are snake_case and never renamed; new fields may be added.
package api
