package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestReaderFraming(t *testing.T) {
	tpkt := AppendX224Data(nil, 2)
	tpkt = append(tpkt, 0x04, 0x01)
	fp := []byte{0x00, 0x05, 0x01, 0x02, 0x03}
	long := append([]byte{0x00, 0x81, 0x00}, make([]byte, 0x100-3)...)
	rd := NewReader(bytes.NewReader(append(append(append([]byte(nil), tpkt...), fp...), long...)))
	for i, want := range []struct {
		kind Kind
		pdu  []byte
	}{{KindTPKT, tpkt}, {KindFastPath, fp}, {KindFastPath, long}} {
		k, pdu, err := rd.Next()
		if err != nil || k != want.kind || !bytes.Equal(pdu, want.pdu) {
			t.Fatalf("PDU %d: kind %d len %d err %v", i, k, len(pdu), err)
		}
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"bad first byte", []byte{0x01, 0x02, 0x03}},
		{"short tpkt", []byte{3, 0, 0, 4}},
		{"short fast-path", []byte{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := NewReader(bytes.NewReader(tc.in)).Next(); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			}
		})
	}
}

func TestConnectionRequestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		user  string
		proto uint32
	}{{"alice", ProtocolSSL | ProtocolHybrid}, {"", ProtocolSSL}, {"bob", ProtocolRDP}} {
		cr, err := ParseConnectionRequest(AppendConnectionRequest(nil, tc.user, tc.proto))
		if err != nil {
			t.Fatal(err)
		}
		wantCookie := ""
		if tc.user != "" {
			wantCookie = "Cookie: mstshash=" + tc.user
		}
		if !cr.HasNeg || cr.Protocols != tc.proto || string(cr.Cookie) != wantCookie {
			t.Fatalf("%+v", cr)
		}
	}
	cc, err := ParseConnectionConfirm(AppendConnectionConfirm(nil, true, 0, NegFailureHybridRequired))
	if err != nil || !cc.Failure || cc.Protocol != NegFailureHybridRequired {
		t.Fatalf("%+v %v", cc, err)
	}
	cc, err = ParseConnectionConfirm(AppendConnectionConfirm(nil, false, NegRspExtendedClientData, ProtocolSSL))
	if err != nil || cc.Failure || cc.Protocol != ProtocolSSL || cc.Flags != 1 {
		t.Fatalf("%+v %v", cc, err)
	}
}

// clientConnectInitial is an MCS Connect-Initial as xfreerdp 2 sends it
// (domain parameters abbreviated to what the parser checks), carrying
// the GCC request with a core, security and network block.
func clientConnectInitial() []byte {
	core := make([]byte, 212)
	core[CoreDesktopWidth], core[CoreDesktopWidth+1] = 0x80, 0x02
	core[CoreEarlyCapFlags] = 0x01
	core[CoreEarlyCapFlags+1] = 0x01 // GFX
	blocks := Blocks{{Type: CSCore, Data: core}, {Type: CSSecurity, Data: make([]byte, 8)},
		{Type: CSNet, Data: AppendClientNet(nil, []Channel{{Name: "cliprdr", Options: 0xC0A00000}, {Name: "drdynvc", Options: 0xC0800000}})}}
	params := []byte{0x30, 0x06, 0x02, 0x01, 0x22, 0x02, 0x01, 0x02}
	head := []byte{0x04, 0x01, 0x01, 0x04, 0x01, 0x01, 0x01, 0x01, 0xFF}
	for i := 0; i < 3; i++ {
		head = append(head, params...)
	}
	ci := &ConnectInitial{Head: head, UserData: AppendGCC(nil, false, blocks)}
	return ci.Append(nil)
}

func TestConnectInitialRoundTrip(t *testing.T) {
	b := clientConnectInitial()
	ci, err := ParseConnectInitial(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ci.Append(nil), b) {
		t.Fatal("re-encoding changed the PDU")
	}
	bs, err := ParseGCC(ci.UserData, false)
	if err != nil {
		t.Fatal(err)
	}
	chans, err := ParseClientNet(bs.Find(CSNet).Data)
	if err != nil || len(chans) != 2 || chans[1].Name != "drdynvc" {
		t.Fatalf("%+v %v", chans, err)
	}
	if len(bs.Find(CSCore).Data) != 212 {
		t.Fatal("core block size")
	}
}

func TestConnectResponseRoundTrip(t *testing.T) {
	sn := &ServerNet{IOChannel: 1003, IDs: []uint16{1004, 1005, 1006}}
	blocks := Blocks{{Type: SCCore, Data: make([]byte, 12)}, {Type: SCSecurity, Data: make([]byte, 8)}, {Type: SCNet, Data: sn.Append(nil)}}
	cr := &ConnectResponse{Head: []byte{0x0A, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x00}, UserData: AppendGCC(nil, true, blocks)}
	got, err := ParseConnectResponse(cr.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := ParseGCC(got.UserData, true)
	if err != nil {
		t.Fatal(err)
	}
	sn2, err := ParseServerNet(bs.Find(SCNet).Data)
	if err != nil || sn2.IOChannel != 1003 || len(sn2.IDs) != 3 || sn2.IDs[2] != 1006 {
		t.Fatalf("%+v %v", sn2, err)
	}
}

func TestDomainPDUs(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 300)
	for _, ind := range []bool{false, true} {
		pdu := AppendSendData(nil, ind, 1007, 1003, data)
		mcs, err := X224Payload(pdu)
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseDomainPDU(mcs)
		if err != nil || d.Initiator != 1007 || d.Channel != 1003 || !bytes.Equal(d.Data, data) {
			t.Fatalf("%+v %v", d, err)
		}
	}
	mcs, _ := X224Payload(AppendChannelJoinConfirm(nil, 0, 1007, 0xFFF0))
	d, err := ParseDomainPDU(mcs)
	if err != nil || d.Type != MCSChannelJoinConfirm || d.Channel != 0xFFF0 || d.Initiator != 1007 {
		t.Fatalf("%+v %v", d, err)
	}
	for _, bad := range [][]byte{{}, {0x64, 0, 6}, {0xFC}, {0x64, 0, 6, 3, 0xEB, 0x70, 0x05, 1}} {
		if _, err := ParseDomainPDU(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%x: err %v", bad, err)
		}
	}
}

func TestClientInfoRewrite(t *testing.T) {
	ci := &ClientInfo{Flags: InfoUnicode | InfoMouse | InfoCompression, Domain: "", User: "person", Password: "x", Extra: []byte{2, 0, 4, 0, 'a', 0, 0, 0}}
	got, err := ParseClientInfo(ci.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	got.Domain, got.User, got.Password = "CORP", "alice", "pässwörd"
	again, err := ParseClientInfo(got.Append(nil))
	if err != nil || again.User != "alice" || again.Password != "pässwörd" || again.Domain != "CORP" || !bytes.Equal(again.Extra, ci.Extra) {
		t.Fatalf("%+v %v", again, err)
	}
}

func TestActiveRoundTrip(t *testing.T) {
	bm := make([]byte, 24)
	bm[BitmapCapPreferredBPP] = 32
	bm[BitmapCapWidth], bm[BitmapCapWidth+1] = 0x80, 0x02
	bm[BitmapCapHeight], bm[BitmapCapHeight+1] = 0xE0, 0x01
	for _, confirm := range []bool{false, true} {
		a := &ActivePDU{Confirm: confirm, ShareID: 0x103EA, Originator: 0x3EA, Source: []byte("RDP\x00"), Caps: []CapabilitySet{{Type: CapBitmap, Data: bm}, {Type: CapOrder, Data: make([]byte, 84)}}, SessionID: 9}
		if confirm {
			a.SessionID = 0
		}
		got, err := ParseActive(a.Append(nil), confirm)
		if err != nil {
			t.Fatal(err)
		}
		w, h, bpp, err := DesktopSize(got.Find(CapBitmap))
		if err != nil || w != 640 || h != 480 || bpp != 32 || got.SessionID != a.SessionID || got.ShareID != a.ShareID {
			t.Fatalf("%d %d %d %v %+v", w, h, bpp, err, got)
		}
	}
	sc, rest, err := ParseShareControl(AppendShareControl(nil, PDUDemandActive, 1002, []byte{1, 2, 3}))
	if err != nil || sc.Type != PDUDemandActive || sc.Source != 1002 || len(rest) != 0 || !bytes.Equal(sc.Body, []byte{1, 2, 3}) {
		t.Fatalf("%+v %v", sc, err)
	}
}

func TestFastPath(t *testing.T) {
	// fast-path input: 3 events (scancode 'a' release+extended, mouse, unicode)
	ev := []byte{0x03, 0x1E, 0x20, 0x00, 0x88, 0x10, 0x00, 0x20, 0x00, 0x81, 0x41, 0x00}
	pdu := append([]byte{3 << 2, byte(2 + len(ev))}, ev...)
	evs, err := ParseFastPathInput(pdu, nil)
	if err != nil || len(evs) != 3 {
		t.Fatalf("%+v %v", evs, err)
	}
	if evs[0].Kind != InputScancode || evs[0].Code != 0x1E || evs[0].Flags != KbdRelease|KbdExtended {
		t.Fatalf("scancode %+v", evs[0])
	}
	if evs[1].Kind != InputMouse || evs[1].Flags != 0x8800 || evs[1].X != 16 || evs[1].Y != 32 {
		t.Fatalf("mouse %+v", evs[1])
	}
	if evs[2].Kind != InputUnicode || evs[2].Code != 'A' || evs[2].Flags != KbdRelease {
		t.Fatalf("unicode %+v", evs[2])
	}
	out := []byte{0x00, 0x00, 0x01, 0x03, 0x00, 'a', 'b', 'c', 0x23, 0x01, 0x00, 'z'}
	out[1] = byte(len(out))
	ups, err := ParseFastPathOutput(out, nil)
	if err != nil || len(ups) != 2 || ups[0].Code != FPUpdateBitmap || string(ups[0].Data) != "abc" || ups[1].Frag != FragFirst || ups[1].Code != FPUpdateSynchronize {
		t.Fatalf("%+v %v", ups, err)
	}
	if _, err := ParseFastPathOutput([]byte{0x80, 0x02}, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("encrypted: %v", err)
	}
}
