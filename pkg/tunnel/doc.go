// Package tunnel carries the agent ↔ control link: TLS 1.3 configurations,
// yamux sessions tuned for bulk transfer, the typed header that opens every
// stream, length-prefixed JSON frames, binary recording chunk frames, and CA
// pinning shared by the agent and the CLI.
//
// Wire format of a stream header (written once, first, on every stream):
//
//	offset size  field
//	0      4     magic "OPS1"
//	4      1     kind (api.StreamKind)
//	5      4     body length, big-endian uint32, at most MaxHeaderSize
//	9      n     body: a JSON object whose type depends on kind
//
// Wire format of a frame (the messages that follow a header on control,
// session and conn streams):
//
//	0      4     body length, big-endian uint32, at most MaxFrameSize
//	4      n     body: a JSON object
//
// Wire format of a recording chunk (agent → control on recording streams):
//
//	0      1     flags: bit 0 = final chunk (the recording is complete)
//	1      8     offset of the first data byte in the recording, big-endian
//	9      4     data length, big-endian uint32, at most MaxChunkSize
//	13     n     data
package tunnel
