// Package e2e holds OnePAM's end-to-end tests: the onepam and onepam-agent
// binaries run as separate processes on loopback (control, agent, CLI),
// against real peers (a loopback echo service, the machine's PostgreSQL and
// the psql client). Helpers live in e2e/e2etest.
package e2e
