// Package spool is the agent's crash-safe recording spool and the uploader
// that streams spooled recordings to control.
//
// # Files
//
// Each session's recording is two files in the spool directory:
//
//	<session id>.<format>       the recording bytes in the native format
//	                            (e.g. connlog JSON lines), append-only
//	<session id>.<format>.meta  the sidecar: an append-only sequence of
//	                            fixed-size state records
//
// The format (an api.RecordingFormat name) is part of both file names, so a
// restarted agent knows what each recording is without reading it.
//
// A sidecar record is 13 bytes:
//
//	offset size field
//	0      1    kind: 's' synced (every byte before length is on disk),
//	            'f' final (the recording is complete and length long),
//	            'c' cut (the recording ended abnormally at length: the link
//	            to control dropped, the agent restarted, or recording failed)
//	1      8    length, big-endian uint64
//	9      4    CRC-32 (IEEE) of bytes 0..8, big-endian
//
// The last valid record is the recording's state. Opening the spool
// detects a torn trailing record (a short record or a bad checksum, left by
// a crash in the middle of a write) and cuts the sidecar back to the last
// good record. A recording without a final or cut record was being written
// when the agent stopped: it is finalised as cut at the length its data
// file holds.
//
// # Writing
//
// Writer buffers recorder writes and hands them to the file system within
// FlushDelay (whole Write calls only, so a process crash never tears one),
// fsyncs the data file and appends an 's' record at least once every
// SyncInterval while data flows, and fsyncs both files on Finalize.
//
// # Uploading
//
// Uploader streams every spooled recording to control over StreamRecording
// streams (see pkg/tunnel and docs/ARCHITECTURE.md §6): it resumes at the
// offset control acknowledges first, sends chunks of at most
// MaxUploadChunk bytes as data is flushed (woken by the writer, with a slow
// poll as a fallback), marks the last chunk final, and deletes both files
// once control acknowledges the final chunk.
package spool
