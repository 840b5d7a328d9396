// Package container is the on-disk and on-wire form of every session
// recording, whatever its inner format (connlog JSON lines, the compact
// terminal log, query logs, HAR, deskproto): a file header followed by a
// sequence of independently decodable zstd frames, each chained to the one
// before by SHA-256, closed by a signed trailer holding a time index.
//
// The agent writes a container while the session runs (Writer, through the
// crash-safe spool, uploaded chunk by chunk); control stores it as it is;
// readers (Reader, Decoder) decode frames back to the inner format's bytes,
// so the native format is produced only when a recording is read or
// exported. A frame boundary may cut an inner record anywhere: the inner
// stream is the concatenation of every data frame's raw bytes.
//
// # Use
//
//	w, _ := NewWriter(spoolFile, Header{SessionID: id, Format: "connlog"}, Config{})
//	w.Write(sessionTime, p) // as the session runs; Flush at least once a second
//	w.Finish(agentKey)      // or nothing: a crash leaves a readable, unsigned file
//
//	rd, _ := Open(readerAt, size)   // header + index (or frame headers)
//	b, _ := rd.ReadFrame(rd.SeekTime(59 * time.Minute))
//	io.Copy(dst, rd.StreamFrom(0))  // the native format
//	dec := NewDecoder(liveStream)   // frames as they arrive (ErrNeedMore)
//	rep, _ := Verify(readerAt, size, agentPublicKey)
//	keep, _ := TruncateTorn(readerAt, size) // where a crashed file's frames end
//
// # Layout
//
// All integers are big-endian; a byte range a..b includes a, not b.
// Session times are microseconds since the session started (int64, never
// negative). Frame numbers count from 0 and are the numbers used in every
// message of this package.
//
//	file    = file header, data frame*, [trailer frame]
//
// File header (14+N bytes):
//
//	offset size field
//	0      5    magic "OPREC"
//	5      1    version, 1
//	6      4    N, the length of the header JSON, 2..65536 (MaxHeaderJSON)
//	10     N    header JSON, a UTF-8 object (Header):
//	              session_id  string  the session's id (required)
//	              format      string  the inner format, an api.RecordingFormat
//	                                  name such as "connlog" (required)
//	              agent_id    string  the id of the agent that recorded it
//	              created_at  string  RFC 3339 time the recording started
//	            unknown fields are ignored (and kept: they are hashed)
//	10+N   4    CRC-32C (Castagnoli) of bytes 0..10+N
//
// The header digest D is SHA-256 of bytes 0..10+N (magic to the end of the
// JSON). The hash chain starts at h_0 = D.
//
// Frame header (68 bytes, FrameHeaderSize), the same for data and trailer
// frames:
//
//	offset size field
//	0      1    type: 'D' (0x44) data frame, 'T' (0x54) trailer frame
//	1      3    reserved, zero
//	4      4    frame number i: 0, 1, 2, ... in file order; the trailer
//	            takes the number after the last data frame
//	8      8    t_first_us: session time of the first byte in the frame
//	16     8    t_last_us: session time of the last byte in the frame
//	            (t_first_us <= t_last_us, and t_first_us of a frame is at
//	            least t_last_us of the frame before it)
//	24     4    raw length: the payload's size decompressed, 1..16 MiB
//	            (the trailer body's size for a trailer frame)
//	28     4    compressed length C: the payload's size in the file,
//	            1..16 MiB (MaxFrameSize)
//	32     32   chain hash h_i = SHA-256(h_{i-1} || bytes 0..31 of this
//	            header || the C payload bytes)
//	64     4    CRC-32C of bytes 0..63
//	68     C    payload: one zstd frame holding the raw bytes (writers
//	            leave out zstd's optional content checksum: the chain hash
//	            covers the payload; readers accept frames with or without)
//
// A data frame holds inner-format bytes. Writers close a frame when it
// holds Config.FrameSize raw bytes or when Flush is called, and write every
// frame with one Write call, so a crash leaves at most one torn frame at
// the end of the file. A frame that does not fit in the file is torn:
// readers ignore it, and TruncateTorn says where the complete frames end.
//
// Trailer frame (written once, by Writer.Finish): a frame header of type
// 'T' whose t_first_us/t_last_us span the whole recording, whose payload is
// the zstd-compressed trailer body, followed by a 64-byte signature and a
// 16-byte footer:
//
//	trailer = frame header (68), payload (C), signature (64), footer (16)
//
// Trailer body (before compression; 112+32K bytes):
//
//	offset size field
//	0      32   header digest D
//	32     32   chain head h_N: the chain hash of the last data frame (h_0
//	            when there is none)
//	64     8    total raw size: the inner stream's length in bytes
//	72     4    N, the number of data frames
//	76     4    K, the number of index entries: N, or 0 when the index was
//	            left out (more than MaxIndexEntries frames)
//	80     32   the signer's Ed25519 public key
//	112    32K  index, one 32-byte entry per data frame in order:
//	              0  8  file offset of the frame header
//	              8  8  t_first_us
//	              16 8  t_last_us
//	              24 8  raw offset: the frame's first byte in the inner stream
//
// Signature: Ed25519 by the agent's key over the message
//
//	"OPREC signature v1\x00" || D || h_N || total raw size (8) || N (4) ||
//	SHA-256(index bytes)
//
// Footer: the file offset of the trailer frame header (8), then the magic
// "OPRECEND" (8). A finished file ends with the footer, so a reader finds
// the index with two reads from the end.
//
// # Integrity
//
// Verify recomputes the chain from the file header to the trailer and
// checks the signature with the agent's public key. The CRCs let it say
// which part was altered (the file header, a frame header) for an
// accidental or naive change; the chain and the signature catch every
// change, including one that recomputed the CRCs. A file without a trailer
// was cut short (the agent stopped before finishing it): every complete
// frame is still readable and verifiable, and Verify reports it as
// StatusUnsignedCut, distinct from tampering. Cutting a finished file at a
// frame boundary looks the same as a crash; the trailer is the only proof
// that a recording is complete, so a recording of a session that ended
// normally should be signed.
package container
