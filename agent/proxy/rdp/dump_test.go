package rdp

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/rdp/wire"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// dumpRecord is one record of a debug dump.
type dumpRecord struct {
	at  time.Duration
	dir byte
	pdu []byte
}

// readDump decodes a debug dump file as documented in dump.go.
func readDump(t *testing.T, b []byte) []dumpRecord {
	t.Helper()
	if !bytes.HasPrefix(b, []byte(dumpMagic)) {
		t.Fatalf("the dump does not start with %q", dumpMagic)
	}
	b = b[len(dumpMagic):]
	var out []dumpRecord
	for len(b) > 0 {
		if len(b) < 13 {
			t.Fatalf("a record header of %d bytes", len(b))
		}
		n := int(binary.LittleEndian.Uint32(b[9:]))
		if n > len(b)-13 {
			t.Fatalf("a record of %d bytes with %d left", n, len(b)-13)
		}
		out = append(out, dumpRecord{time.Duration(binary.LittleEndian.Uint64(b)) * time.Microsecond, b[8], b[13 : 13+n]})
		b = b[13+n:]
	}
	return out
}

func clientInfoPDU(password string, unicode bool) []byte {
	ci := &wire.ClientInfo{CodePage: 0x409, Flags: wire.InfoMouse, Domain: "CORP", User: "alice", Password: password, Extra: []byte{1, 2, 3}}
	if unicode {
		ci.Flags |= wire.InfoUnicode
	}
	return wire.AppendSendData(nil, false, 1007, 1003, ci.Append(nil))
}

func TestMaskClientInfo(t *testing.T) {
	const pw = "hunter2-ü"
	other := wire.AppendSendData(nil, false, 1007, 1003, []byte{0x17, 0, 0, 0, 1, 2, 3})
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"unicode", clientInfoPDU(pw, true)},
		{"ansi", clientInfoPDU(pw, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, info := maskClientInfo(tc.in)
			if !info || len(out) != len(tc.in) {
				t.Fatalf("masked PDU of %d bytes, want %d", len(out), len(tc.in))
			}
			if bytes.Contains(out, wire.UTF16("hunter2")) || bytes.Contains(out, []byte("hunter2")) {
				t.Fatalf("the password is still in %x", out)
			}
			mcs, _ := wire.X224Payload(out)
			d, err := wire.ParseDomainPDU(mcs)
			if err != nil {
				t.Fatal(err)
			}
			ci, err := wire.ParseClientInfo(d.Data)
			if err != nil || ci.User != "alice" || ci.Domain != "CORP" || !bytes.Equal(ci.Extra, []byte{1, 2, 3}) {
				t.Fatalf("masked info %+v %v", ci, err)
			}
			for _, c := range ci.Password {
				if c != 0 {
					t.Fatalf("password %q not zeroed", ci.Password)
				}
			}
		})
	}
	t.Run("other PDUs unchanged", func(t *testing.T) {
		for _, b := range [][]byte{other, {0x00, 0x05, 1, 2, 3}, wire.AppendChannelJoinConfirm(nil, 0, 1007, 1004)} {
			if got, info := maskClientInfo(b); info || !bytes.Equal(got, b) {
				t.Fatalf("%x became %x (info %v)", b, got, info)
			}
		}
	})
	t.Run("an undecodable info PDU keeps its header only", func(t *testing.T) {
		bad := wire.AppendSendData(nil, false, 1007, 1003, append([]byte{0x40, 0, 0, 0}, []byte("hunter2 and more")...))
		out, info := maskClientInfo(bad)
		if !info || bytes.Contains(out, []byte("hunter2")) {
			t.Fatalf("%x (info %v)", out, info)
		}
	})
	// After the Client Info PDU, a share control PDU whose length has
	// the SEC_INFO_PKT bit (0x40: 64 bytes here) is dumped as read.
	t.Run("later look-alikes dumped as read", func(t *testing.T) {
		dir := t.TempDir()
		d, err := openDump(dir, "c.rdpdump", func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		share := make([]byte, 64)
		binary.LittleEndian.PutUint16(share, 64)
		binary.LittleEndian.PutUint16(share[2:], 0x17)
		later := wire.AppendSendData(nil, false, 1007, 1003, share)
		d.pdu(dumpFromClient, clientInfoPDU(pw, true))
		d.pdu(dumpFromClient, later)
		if err := d.close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "c.rdpdump"))
		if err != nil {
			t.Fatal(err)
		}
		recs := readDump(t, b)
		if len(recs) != 2 || !bytes.Equal(recs[1].pdu, later) || bytes.Contains(b, wire.UTF16("hunter2")) {
			t.Fatalf("dump records %+v", recs)
		}
	})
}

// TestDebugDump dumps a real session (xfreerdp to freerdp-shadow-cli
// through the proxy) and reads it back: both legs' PDUs are there, the
// Client Info PDU's password is zeroed, and neither the client's nor the
// stored password appears anywhere.
func TestDebugDump(t *testing.T) {
	p := getPeers(t)
	dir := filepath.Join(t.TempDir(), "dumps")
	h, err := openSession(t, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityTLS, IgnoreCert: true, Username: p.user, Password: p.pass, DebugDump: dir})
	if err != nil {
		t.Fatal(err)
	}
	cmd := p.xfreerdp(t, h.Addr)
	poll(t, "a first frame", func() bool {
		return countEvents(t, h, deskproto.EventRect, nil)+countEvents(t, h, deskproto.EventFill, nil) > 0
	})
	cmd.Process.Kill()
	cmd.Wait()
	select {
	case <-h.Errs:
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn did not return after the client left")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "s-test-*.rdpdump"))
	if len(files) != 1 {
		t.Fatalf("dump files %v, want one", files)
	}
	if st, err := os.Stat(files[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("dump file mode %v %v", st.Mode(), err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{p.pass, "not-used"} {
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, wire.UTF16(secret)) {
			t.Fatalf("the dump holds the password %q", secret)
		}
	}
	recs := readDump(t, b)
	var fromClient, fromServer, fastPath, info, dataRequests int
	var last time.Duration
	for i, r := range recs {
		if r.at < last {
			t.Fatalf("record %d goes back in time", i)
		}
		last = r.at
		switch r.dir {
		case dumpFromClient:
			fromClient++
			if i == 0 {
				mcs, err := wire.X224Payload(r.pdu)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := wire.ParseConnectInitial(mcs); err != nil {
					t.Fatalf("the first dumped PDU is not the client's MCS Connect-Initial: %v", err)
				}
			}
			// With TLS security the client's first Send Data Request is
			// its Client Info PDU; later ones (share control PDUs, no
			// security header) can pass for one when their length has
			// the SEC_INFO_PKT bit, so only the first is read as one.
			if mcs, err := wire.X224Payload(r.pdu); err == nil && dataRequests == 0 {
				if d, err := wire.ParseDomainPDU(mcs); err == nil && d.Type == wire.MCSSendDataRequest {
					dataRequests++
					ci, err := wire.ParseClientInfo(d.Data)
					if err != nil {
						t.Fatalf("the client's first Send Data Request is not its Client Info PDU: %v", err)
					}
					info++
					if ci.Password != string(make([]rune, len([]rune(ci.Password)))) || len(ci.Password) == 0 {
						t.Fatalf("the dumped Client Info password is %q, want zeros of its length", ci.Password)
					}
				}
			}
		case dumpFromServer:
			fromServer++
			if r.pdu[0]&3 == 0 {
				fastPath++
			}
		default:
			t.Fatalf("record %d has direction %d", i, r.dir)
		}
	}
	if fromClient < 5 || fromServer < 5 || fastPath == 0 || info != 1 {
		t.Fatalf("dump of %d PDUs from the client, %d from the server (%d fast-path), %d Client Info", fromClient, fromServer, fastPath, info)
	}
	t.Logf("dump: %d bytes, %d PDUs from the client, %d from the server", len(b), fromClient, fromServer)
}
