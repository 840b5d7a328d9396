// Package rdp is the agent's RDP proxy: it carries a person's RDP client
// (xfreerdp, mstsc, Remmina) to an RDP server and records the session
// pixel by pixel as deskproto (recordfmt/deskproto), with the keyboard
// and pointer input.
//
// The agent terminates RDP's security layer on both legs:
//
//   - Towards the client it is an RDP server offering TLS only
//     (PROTOCOL_SSL) with its own certificate (Config.CertFile/KeyFile,
//     or a self-signed one made in memory). Control has already
//     authenticated the person, so there is no NLA on this leg; a client
//     that does not offer TLS (NLA-only, or standard RDP security), or
//     that requires restricted admin or redirected authentication, gets
//     an RDP_NEG_FAILURE (SSL_REQUIRED_BY_SERVER) and a clear error.
//   - Towards the server it is an RDP client: X.224 negotiation of TLS
//     (security: tls) or TLS+CredSSP (security: nla, NTLMv2, package
//     nla), the certificate checked by the system roots, ca_file,
//     cert_fingerprint, or not at all (ignore_cert). The credentials
//     come from agent.yaml (TargetConfig) and never reach the person:
//     they are sent in the CredSSP exchange and injected into the Client
//     Info PDU (auto-logon), replacing whatever the client sent.
//
// Between the security layers the agent relays the RDP PDUs (package
// wire decodes them). Both legs share one set of MCS ids: the client is
// given the server's user id, I/O channel, static channel ids and share
// id, so most PDUs pass through after being decoded; the agent rewrites
// what decides what the server may send:
//
//   - MCS Connect-Initial (GCC client data): serverSelectedProtocol set
//     to the server leg's protocol; the GFX pipeline, network
//     auto-detect and skip-channel-join early capability flags cleared;
//     the multitransport block removed (no UDP). Every static channel
//     the client asks for is passed on, so both legs keep the same
//     channel ids (some clients, like rdesktop, number the channels
//     themselves), but the data of withheld channels is dropped both
//     ways: always drdynvc (no dynamic channels, hence no GFX/H.264),
//     and cliprdr and rdpdr when the resource sets clipboard or drives
//     off.
//   - MCS Connect-Response (GCC server data): clientRequestedProtocols
//     set to what the client asked for, channel ids mapped back,
//     multitransport removed. Standard RDP encryption is refused.
//   - Client Info PDU: domain, user and password replaced, auto-logon
//     set, bulk compression cleared.
//   - Demand Active and Confirm Active (after every Deactivate All too):
//     surface commands, bitmap codecs (RemoteFX, NSCodec) and frame
//     acknowledge removed, every drawing order and the order caches
//     (glyph, offscreen, bitmap cache v2) switched off, planar color
//     loss and chroma subsampling off, virtual channel compression off.
//
// Server-to-client graphics are decoded before they are forwarded
// (package bitmap): slow- and fast-path bitmap updates (uncompressed,
// interleaved RLE, RDP 6.0 planar), palettes, pointer positions; a
// fragmented fast-path update is forwarded once all its fragments are
// decoded. Anything the agent cannot render — drawing orders, surface
// commands, bulk-compressed data, an unknown update type — ends the
// connection with a clear error (fail closed: the person never sees
// what the recording did not get), as do server redirection PDUs.
// Pointer shapes are forwarded but not recorded.
//
// Client-to-server input (fast-path and slow-path) is recorded: scan
// codes as deskproto Key events (PC set 1, +0x100 for E0), Unicode
// input as keysym 0x01000000+code, pointer moves, buttons and wheels as
// Pointer events with the deskproto button mask.
//
// Static virtual channels are relayed unchanged; their names, and which
// were withheld, are logged and recorded (Meta "channels"). The
// clipboard and drive redirection channels are audited off the byte
// path (package vchan; a decoding error stops that channel's audit,
// never the relay): each clipboard transfer is a deskproto Clipboard
// event (direction, size, the start of its text) and a file event
// reported to control (protocol rdp-clipboard: upload to the desktop,
// download to the person; path: the format and quoted text, or a copied
// file's name), and each file the desktop opened on the person's
// redirected drives a file event once closed (protocol rdp-drive: read
// is upload, written is download, plus mkdir, delete, rmdir, rename and
// directory listings), listed by sessions files and sessions show.
//
// With the resource option debug_dump the agent writes each
// connection's decrypted PDUs, the Client Info password zeroed, to a
// file for collecting test data from real servers (format in dump.go).
//
// Malformed bytes from either side end that connection with a clear
// error, recorded as a deskproto Error event; other sessions are not
// affected. A session carries one client connection at a time.
package rdp
