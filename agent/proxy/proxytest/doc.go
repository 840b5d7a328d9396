// Package proxytest holds the test helpers every proxy package uses to
// drive a proxy.Session the way the agent does: a SessionInfo recording
// into memory (Info, Sink), a loopback listener standing in for control
// and the CLI that hands every accepted connection to ServeConn on a
// fresh loopback stream and strips the ConnOpenResult frame (Serve),
// and the checks that a real peer program is installed (RequirePeer,
// SkipOrFail: missing peers fail the test in CI, CI=true, and skip it
// elsewhere). It is imported by tests only.
package proxytest
