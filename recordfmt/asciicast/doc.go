// Package asciicast is the recording format of SSH sessions: a compact binary
// event stream written while the session runs (the "stored form"), and exact
// asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/) produced
// from it when a recording is read or exported. The api.RecordingFormat name
// is "asciicast"; exported files use the extension ".cast".
//
// # Why a stored form
//
// asciicast v2 is one JSON line per event. JSON-escaping terminal output as it
// is produced costs CPU on the byte-copying path and grows binary output up to
// six times (every NUL becomes "\u0000"). The Recorder therefore writes raw
// bytes with a few bytes of framing per read and costs one copy per byte;
// Export does the escaping once, when someone asks for the .cast.
//
// # Stored form (version 1)
//
// All integers are unsigned LEB128 varints ("uvarint", encoding/binary).
//
//	magic     6 bytes  "OPCAST"
//	version   1 byte   0x01
//	hdrlen    uvarint  length of the header JSON that follows (≤ MaxHeaderSize)
//	header    hdrlen bytes, a JSON object (Header):
//	            width      int     terminal columns at start
//	            height     int     terminal rows at start
//	            timestamp  int     unix seconds of the session start
//	            env        object  string → string, e.g. TERM, SHELL
//	            title      string  optional
//	            command    string  exec command; absent for an interactive shell
//	            session_id, user, resource, login  string  onepam's session
//	                        identity (absent when empty)
//	          unknown keys are ignored.
//	events    zero or more, until the end of the stream:
//	  type    1 byte   'o' output (target → person terminal bytes)
//	                   'i' input (person → target bytes, every keystroke)
//	                   'r' resize
//	                   'm' marker (a label, e.g. "session terminated")
//	                   other values: skipped by readers (length-framed), so
//	                   later versions may add event types
//	  delta   uvarint  microseconds since the previous event (the first
//	                   event: since the session start); times never go back
//	  length  uvarint  payload length in bytes (≤ MaxEventSize)
//	  payload length bytes:
//	           'o','i': the raw bytes exactly as read (any bytes, not
//	                    necessarily valid or complete UTF-8)
//	           'r':     cols uvarint, rows uvarint
//	           'm':     the label, UTF-8
//
// The Recorder writes a read larger than MaxEventSize as several events,
// the later ones with delta 0, and nothing for an empty read. It buffers up
// to 64 KiB; its owner calls Flush at least once a second so that live
// watchers and the spool see the data.
//
// A stream that ends inside an event (a session whose recorder was cut
// short) yields every complete event and then an error wrapping
// ErrTruncated. Readers allocate at most MaxEventSize per event whatever a
// length field claims.
//
// # asciicast v2 produced by Export
//
// The first line is the header object, written as asciinema writes it
// (separators ", " and ": "), keys in this order:
//
//	version    2
//	width      int
//	height     int
//	timestamp  int (omitted when 0)
//	command    string, the exec command (omitted for an interactive shell)
//	title      string (omitted when empty)
//	env        object, keys sorted (omitted when empty)
//	onepam     object with onepam's fields, each omitted when empty (the
//	           object too when all are): session_id, user, resource, login
//
// The spec defines no "onepam" key; asciinema (play, cat) and other players
// read only the keys they know, so it is ignored (the tests check every
// exported file with the real "asciinema cat").
//
// Each following line is an event array [time, code, data]: time in seconds
// with exactly 6 decimals, non-decreasing; code "o", "i", "r" ("COLSxROWS")
// or "m" (the label). Data is JSON-escaped exactly as asciinema's own
// recorder writes it (Python json.dumps, ensure_ascii=False): '"' and '\'
// and \b \f \n \r \t get short escapes, the other bytes below 0x20 become
// \u00XX, and everything else (DEL, non-ASCII, U+2028) is written as UTF-8.
//
// A UTF-8 sequence split across two reads is joined into the event of the
// later read (output and input each carry their own incomplete tail); bytes
// that are not valid UTF-8 become U+FFFD, one per maximal ill-formed
// subpart, as Python's decoder in asciinema's recorder does. An incomplete
// tail left at the end of the recording is flushed as U+FFFD in a final
// event. Events whose data is empty after this (a read holding only the
// start of a character) are left out, except markers.
//
// # Reading
//
// Export converts the stored form to a .cast; Encoder writes a .cast
// straight from Events. Decoder reads asciicast v2 (and the stored form,
// converted like Export) as Events. Player yields the events of a recording
// with the pause to wait before each (speed, idle limit, start offset) and
// never sleeps itself. Lines recovers plain text lines of the output or the
// typed input, with their time offsets, for search.
package asciicast
