package rdp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/agent/proxy/rdp/wire"
)

// Debug dumps (resource option debug_dump: a directory) collect the
// decrypted PDUs of real RDP sessions as test data: the agent writes one
// file per client connection, DIR/SESSION-CONN.rdpdump (mode 0600), of
// every PDU it reads on either leg after the security layers (X.224,
// TLS and CredSSP are not dumped, so no NTLM message is), from the MCS
// Connect-Initial on. The Client Info PDU's password is zeroed (its
// length kept); the stored password is never read back from a leg, so
// it cannot appear.
//
// File format, all integers little-endian:
//
//	magic    [8]byte  "RDPDUMP1"
//	then records until the end of the file:
//	  micros u64      time since the connection started, µs
//	  dir    u8       0: read from the client, 1: read from the server
//	  length u32      length of the PDU
//	  pdu    [length] the PDU as read: a TPKT (first byte 3) or a
//	                  fast-path PDU, headers included
//
// A write error stops the dump (logged once); the session goes on.

// dumpMagic starts a dump file.
const dumpMagic = "RDPDUMP1"

// Directions of dumped PDUs.
const (
	dumpFromClient = 0
	dumpFromServer = 1
)

// dumper writes one connection's dump; a nil *dumper writes nothing.
type dumper struct {
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	start time.Time
	err   error
	fail  func(error)
	// infoDone: the client's Client Info PDU went by (masked). Later
	// client PDUs are dumped as read: a share control PDU has no
	// security header, and its length can carry the SEC_INFO_PKT bit.
	infoDone bool
}

// openDump creates dir/name; fail is told of the first write error.
func openDump(dir, name string, fail func(error)) (*dumper, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("rdp debug dump: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("rdp debug dump: %w", err)
	}
	d := &dumper{f: f, w: bufio.NewWriterSize(f, 64<<10), start: time.Now(), fail: fail}
	d.w.WriteString(dumpMagic)
	return d, nil
}

// pdu writes one PDU read in direction dir, with client credentials
// masked.
func (d *dumper) pdu(dir byte, pdu []byte) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if dir == dumpFromClient && !d.infoDone {
		pdu, d.infoDone = maskClientInfo(pdu)
	}
	if d.err != nil {
		return
	}
	var hdr [13]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(time.Since(d.start).Microseconds()))
	hdr[8] = dir
	binary.LittleEndian.PutUint32(hdr[9:], uint32(len(pdu)))
	d.w.Write(hdr[:])
	if _, err := d.w.Write(pdu); err != nil {
		d.err = err
		d.fail(err)
	}
}

// close flushes and closes the file.
func (d *dumper) close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return errors.Join(d.w.Flush(), d.f.Close())
}

// maskClientInfo returns pdu with the password of a Client Info PDU
// replaced by zeros of the same length, and info true; other PDUs come
// back unchanged. Only a client's PDUs before its Client Info PDU are to
// be given to it (see dumper.infoDone).
func maskClientInfo(pdu []byte) (out []byte, info bool) {
	if len(pdu) < 8 || pdu[0] != 3 || pdu[5] != 0xF0 {
		return pdu, false
	}
	mcs, err := wire.X224Payload(pdu)
	if err != nil {
		return pdu, false
	}
	d, err := wire.ParseDomainPDU(mcs)
	if err != nil || d.Type != wire.MCSSendDataRequest || len(d.Data) < 2 || getU16(d.Data)&wire.SecInfoPkt == 0 {
		return pdu, false
	}
	ci, err := wire.ParseClientInfo(d.Data)
	if err != nil {
		// Not decodable: keep the security header, drop the rest.
		return wire.AppendSendData(nil, false, d.Initiator, d.Channel, d.Data[:4]), true
	}
	n := len(ci.Password)
	if ci.Flags&wire.InfoUnicode != 0 {
		n = len(wire.UTF16(ci.Password)) / 2
	}
	ci.Password = strings.Repeat("\x00", n)
	return wire.AppendSendData(nil, false, d.Initiator, d.Channel, ci.Append(nil)), true
}

// dumpReader is a wire.Reader whose PDUs are also dumped.
type dumpReader struct {
	*wire.Reader
	d   *dumper
	dir byte
}

// Next reads and dumps one PDU.
func (r dumpReader) Next() (wire.Kind, []byte, error) {
	k, pdu, err := r.Reader.Next()
	if err == nil {
		r.d.pdu(r.dir, pdu)
	}
	return k, pdu, err
}
