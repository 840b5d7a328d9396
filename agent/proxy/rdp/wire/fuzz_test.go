package wire

import (
	"bytes"
	"testing"
)

func seedTPKT(f *testing.F) {
	f.Add(AppendConnectionRequest(nil, "alice", ProtocolSSL|ProtocolHybrid))
	f.Add(AppendConnectionConfirm(nil, false, 1, ProtocolSSL))
	f.Add(AppendSendData(nil, true, 1007, 1003, []byte("hello")))
	b := clientConnectInitial()
	f.Add(append(AppendX224Data(nil, len(b)), b...))
}

// FuzzTPKT feeds a stream to the Reader and every slow-path decoder.
func FuzzTPKT(f *testing.F) {
	seedTPKT(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		rd := NewReader(bytes.NewReader(b))
		for i := 0; i < 8; i++ {
			kind, pdu, err := rd.Next()
			if err != nil {
				return
			}
			if kind != KindTPKT {
				ParseFastPathInput(pdu, nil)
				ParseFastPathOutput(pdu, nil)
				continue
			}
			ParseConnectionRequest(pdu)
			ParseConnectionConfirm(pdu)
			if mcs, err := X224Payload(pdu); err == nil {
				ParseDomainPDU(mcs)
			}
		}
	})
}

// FuzzX224 decodes connection requests and confirms.
func FuzzX224(f *testing.F) {
	seedTPKT(f)
	f.Add([]byte("\x03\x00\x00\x2c\x27\xe0\x00\x00\x00\x00\x00Cookie: mstshash=a\r\n\x01\x08\x08\x00\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if cr, err := ParseConnectionRequest(b); err == nil {
			if _, err := ParseConnectionRequest(AppendConnectionRequest(nil, "", cr.Protocols)); err != nil {
				t.Fatalf("re-encoded request: %v", err)
			}
		}
		ParseConnectionConfirm(b)
	})
}

// FuzzMCS decodes MCS connect PDUs, their GCC blocks and domain PDUs,
// and re-encodes what decodes.
func FuzzMCS(f *testing.F) {
	f.Add(clientConnectInitial())
	sn := &ServerNet{IOChannel: 1003, IDs: []uint16{1004}}
	cr := &ConnectResponse{Head: []byte{0x0A, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00}, UserData: AppendGCC(nil, true, Blocks{{Type: SCNet, Data: sn.Append(nil)}})}
	f.Add(cr.Append(nil))
	f.Add([]byte{0x64, 0x00, 0x06, 0x03, 0xEB, 0x70, 0x01, 0x00})
	f.Add([]byte{0x3E, 0x00, 0x00, 0x06, 0x03, 0xEB, 0x03, 0xEB})
	f.Fuzz(func(t *testing.T, b []byte) {
		if ci, err := ParseConnectInitial(b); err == nil {
			if bs, err := ParseGCC(ci.UserData, false); err == nil {
				if nb := bs.Find(CSNet); nb != nil {
					ParseClientNet(nb.Data)
				}
				ci.UserData = AppendGCC(nil, false, bs)
				if _, err := ParseConnectInitial(ci.Append(nil)); err != nil {
					t.Fatalf("re-encoded connect initial: %v", err)
				}
			}
		}
		if cr, err := ParseConnectResponse(b); err == nil {
			if bs, err := ParseGCC(cr.UserData, true); err == nil {
				if nb := bs.Find(SCNet); nb != nil {
					ParseServerNet(nb.Data)
				}
			}
		}
		ParseDomainPDU(b)
		if IsShareControl(b) {
			if sc, _, err := ParseShareControl(b); err == nil {
				ParseActive(sc.Body, false)
				ParseActive(sc.Body, true)
				if sd, err := ParseShareData(sc.Body); err == nil {
					ParseSlowPathInput(sd.Body, nil)
				}
			}
		}
		ParseClientInfo(b)
	})
}

// FuzzFastPath decodes fast-path input and output PDUs.
func FuzzFastPath(f *testing.F) {
	f.Add([]byte{0x0C, 0x0E, 0x03, 0x1E, 0x20, 0x00, 0x88, 0x10, 0x00, 0x20, 0x00, 0x81, 0x41, 0x00})
	f.Add([]byte{0x00, 0x0C, 0x01, 0x03, 0x00, 'a', 'b', 'c', 0x23, 0x01, 0x00, 'z'})
	f.Add([]byte{0x00, 0x80, 0x08, 0x81, 0x01, 0x02, 0x00, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseFastPathInput(b, nil)
		ParseFastPathOutput(b, nil)
	})
}
