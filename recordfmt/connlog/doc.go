// Package connlog is the recording format of TCP sessions: JSON lines, one
// line per connection event, UTF-8, each line ending in "\n". The file
// extension is ".jsonl"; the api.RecordingFormat name is "connlog".
//
// A line is one JSON object with these fields:
//
//	t          number  seconds since the session started (monotonic clock),
//	                   fractional; never negative, non-decreasing in practice
//	event      string  "open": a connection to the target was established;
//	                   "close": that connection ended (both directions done);
//	                   "error": a connection could not be established (or
//	                   broke before any byte flowed), see error
//	conn       integer the connection number within the session: 1, 2, ...
//	                   (api.ConnOpen.ConnID); an open and its close share it
//	peer       string  the person's client address (host:port) as control saw it
//	target     string  the target address the agent dialled (host:port)
//	bytes_up   integer bytes carried person → target; 0 on open, the total
//	                   on close
//	bytes_down integer bytes carried target → person; 0 on open, the total
//	                   on close
//	duration   number  seconds the connection was open; on close only
//	                   (omitted otherwise)
//	error      string  why the connection failed; on error (and on a close
//	                   caused by an error); omitted when empty
//
// Unknown fields are ignored by the Decoder so that later versions may add
// fields. A line longer than MaxLineSize bytes, a line that is not a JSON
// object, an unknown event name, a negative time or byte count, or a
// connection number below 1 is an error naming the line number.
//
// Writers emit two lines per connection (open and close, or a single
// error), never one per read: recording a TCP session costs no syscall on
// the byte-copying path.
package connlog
