// Package vchan audits RDP static virtual channels off the relay's byte
// path: it reassembles channel PDUs and decodes the clipboard
// (MS-RDPECLIP, channel "cliprdr") and device redirection (MS-RDPEFS,
// channel "rdpdr") messages into audit events — clipboard transfers with
// their format, size and the start of their text, and file operations on
// the person's redirected drives with paths and bytes moved.
//
// The relay forwards every chunk unchanged whatever the audit makes of
// it: an Audit never alters or holds bytes, and a malformed or
// unexpected message only ends the audit of that channel (Feed returns
// the error once; later chunks of the channel are ignored).
//
// # Channel PDUs (MS-RDPBCGR 2.2.6.1)
//
// Under TLS a static channel's MCS Send Data carries, with no security
// header:
//
//	length u32   total length of the virtual channel message (all chunks)
//	flags  u32   CHANNEL_FLAG_FIRST 0x01, CHANNEL_FLAG_LAST 0x02,
//	             CHANNEL_FLAG_SHOW_PROTOCOL 0x10, SUSPEND 0x20, RESUME 0x40,
//	             SHADOW_PERSISTENT 0x80, CHANNEL_PACKET_COMPRESSED
//	             0x00200000 (compression type in 0x000F0000),
//	             AT_FRONT 0x00400000, FLUSHED 0x00800000
//	data         one chunk (1600 bytes by default) of the message
//
// A message is the data of the chunks from FIRST to LAST; the
// reassembler keeps at most Config.MaxMessage bytes of it (the audit
// needs only headers and the start of clipboard text) and the total
// length. The agent switches virtual channel compression off in the
// capability exchange, so a compressed chunk ends the channel's audit.
package vchan
