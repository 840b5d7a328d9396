// Package sessions is the session manager of the control server: it
// creates sessions (role, policy and agent checks, a pending row), attaches
// a person's upgraded connections to streams to the serving agent, splices
// bytes both ways while counting them, and ends sessions — completed when
// the lead connection closes, terminated by an administrator's kill,
// failed when the target or the agent link breaks, when a pending session
// is never attached, or when control shuts down.
//
// Lifecycle (docs/ARCHITECTURE.md §4):
//
//   - Create: pending row, nothing reaches the agent.
//   - The lead attaches (the events channel, or the first data connection
//     for types without one): a StreamSession is opened with an
//     api.SessionOpen header; the agent's api.SessionOpenResult makes the
//     session active or failed.
//   - Each data connection opens a StreamConn (api.ConnOpen); after the
//     agent's api.ConnOpenResult the bytes are spliced.
//   - Every status change goes through the store's Transition (one
//     transition function); the first ending wins, later ones get a
//     conflict.
//
// Running sessions live in an in-memory registry with atomic byte counters
// that are overlaid on API answers and flushed to the store when a
// connection ends and every FlushInterval.
//
// A Manager runs on one control node (Config.Node, nodes.go): it
// registers the node (Join), keeps its row alive and sweeps while it runs
// (Run), and removes it at a clean end (Leave). Sessions record the node;
// the sweep (RecoverInterrupted at start, then every SweepInterval) fails
// only the sessions no live node carries, and ends here the sessions that
// another node ended (a kill through it). Create and Attach answer an
// *OtherNodeError (api.CodeOtherNode) when the agent, or the session, is
// held by another live node, which control's API forwards the request
// to; Carrier names the node a kill is forwarded to.
//
// Subscribe hands out the session events (events.go). On a shared
// database an EventRelay (relay.go) makes them cluster-wide: each node
// sends its own sessions' events to the others through a Notifier
// (PostgreSQL NOTIFY/LISTEN, store/postgres) and hands theirs to its
// subscribers; after its listening connection was lost it listens again
// with backoff and ends every subscription so that subscribers reload.
package sessions
