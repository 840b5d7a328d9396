// Package agentgw is control's side of the agent link: the TLS 1.3
// listener agents dial out to, enrollment (a one-time token exchanged for a
// client certificate), the yamux session of each connected agent with its
// control stream (hello, welcome, heartbeats, resource inventories), the
// registry of online agents that the sessions manager opens streams
// through, and the receiver of recording uploads.
//
// A connection without a client certificate carries exactly one
// enrollment: an api.StreamEnroll header answered by one
// api.EnrollResponse frame, then the connection is closed. A connection
// with a client certificate (CommonName = agent id) runs a yamux server
// session; the first stream the agent opens is its control stream
// (api.AgentHello header, then api.AgentMessage frames both ways). The
// agent drives heartbeats and control answers each one; an agent that sends
// no frame for HeartbeatTimeout, whose control stream breaks or whose yamux
// session dies is dropped. One connection per agent is live: a new one
// replaces an older one. Further streams the agent opens must be
// api.StreamRecording uploads; anything else is closed.
//
// Metrics: Config.OnAgentChange and Config.OnRecording are called on every
// online/offline change and after every acknowledged recording chunk, and
// Gateway.Stats returns counters (agents online, enrollments, recording
// bytes and chunks received, open uploads with their last acknowledgement
// time) for a metrics collector to read.
package agentgw
