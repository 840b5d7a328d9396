// Package spool is the agent's crash-safe recording spool and the uploader
// that streams spooled recordings to control.
//
// # Files
//
// Each session's recording is a recording container (recordfmt/container)
// in the spool directory, with two snapshot slots for its open frame:
//
//	<session id>.<format>.oprec        the container: file header, closed
//	                                   frames and, once finalised, the
//	                                   trailer signed with the agent's key;
//	                                   append-only, one write per piece
//	<session id>.<format>.oprec.open0  the latest versions of the open
//	<session id>.<format>.oprec.open1  frame (container.Writer.Snapshot),
//	                                   written alternately
//
// The format (an api.RecordingFormat name) is part of the file names, so a
// restarted agent knows what each recording is without reading it.
//
// # Writing
//
// A frame stays open (and compresses better the more it holds) until it
// reaches Config.FrameSize raw bytes (64 KiB) or the recording ends. While data
// flows, at most FlushInterval after a write (default 900 ms), the Writer
// fsyncs the container and writes the open frame as it stands to the next
// snapshot slot (truncate, write, fsync): the slot not written keeps the
// previous version, so a crash in the middle of a snapshot loses nothing
// that was durable. A crash therefore loses at most the last FlushInterval
// of the recording, and frames still reach their full size: a realistic
// terminal stream is stored 5.7 times smaller than its raw bytes with
// 64 KiB frames (6.7 with 256 KiB), where one frame per second gave 2.3
// (BenchmarkCompressionGrowing and BenchmarkCompressionRatio in
// recordfmt/container).
//
// Opening the spool recovers recordings left by a previous run: the torn
// end of a container is cut (container.TruncateTorn), the snapshot that
// continues the container's hash chain with the most bytes is appended,
// both slots are removed, and the recording is final, cut (no trailer: it
// verifies as cut short, never as altered). Recordings of older agents
// (<session id>.<format> raw bytes with a .meta sidecar of 13-byte CRC'd
// state records, see sidecar.go) are still recovered and uploaded as they
// are.
//
// # Limit
//
// Config.Limit bounds the bytes of all spool files. A recording needs
// Config.Headroom free to go on (to close its open frame and sign); a new
// one needs Headroom plus 64 KiB. At the limit a write fails with ErrFull
// (fail-closed: the session must end), or with Config.FailOpen the
// recording stops (later writes are dropped, the session goes on);
// Config.OnFull is told once per recording so the agent can end sessions
// or report the gap.
//
// # Uploading
//
// Uploader streams every spooled recording to control over StreamRecording
// streams (see pkg/tunnel and docs/ARCHITECTURE.md §6). Chunks hold whole
// pieces (file header, frames, trailer; a closed piece larger than
// MaxUploadChunk is split): closed pieces once (gathered for up to
// UploaderConfig.ChunkInterval, 250 ms, unless MaxUploadChunk bytes are
// waiting, so a bulk session sends a few large chunks a second rather than
// one per frame), then the open frame's latest snapshot at the end of the
// closed pieces, re-sent at that same offset when it grew (at most every
// UploaderConfig.TailInterval, 2 s: each re-send costs the whole open
// frame) or was closed. Control stores a chunk at its offset, replacing what it held from there on, so it always holds a valid
// container, at most FlushInterval behind the agent. An upload resumes at
// the start of the piece holding the last byte control acknowledged (it
// may hold a partial chunk or an older version of the open frame), marks
// the last chunk final, and deletes the recording once control
// acknowledged the final chunk.
package spool
