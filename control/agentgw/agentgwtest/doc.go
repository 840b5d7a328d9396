// Package agentgwtest is a minimal agent for testing control's agent
// gateway: it enrolls, connects with its certificate, exchanges control
// messages, accepts the streams control opens and uploads recordings, all
// through pkg/tunnel, with every step exposed so tests can also misbehave
// (write raw bytes, drop streams half way). It is not the real agent
// (package agent).
package agentgwtest
