package rdp

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/rdp/wire"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// TestMalformedClientBytes: hostile bytes from the client after TLS end
// that connection with a clear error, recorded in the recording; the
// session serves the next client.
func TestMalformedClientBytes(t *testing.T) {
	p := getPeers(t)
	h, err := openSession(t, Config{}, p.tlsAddr, &TargetConfig{Security: SecurityTLS, IgnoreCert: true, Username: p.user, Password: p.pass})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pdu  []byte
		want string
	}{
		{"not an MCS connect initial", append(wire.AppendX224Data(nil, 3), 0x7F, 0x65, 0x50), "connect initial"},
		{"garbage framing", []byte{0x01, 0x02, 0x03, 0x04}, "neither TPKT nor fast-path"},
		{"GCC without its key", func() []byte {
			ci := &wire.ConnectInitial{Head: []byte{0x04, 0x01, 0x01, 0x04, 0x01, 0x01, 0x01, 0x01, 0xFF, 0x30, 0x00, 0x30, 0x00, 0x30, 0x00}, UserData: []byte{0, 5, 0, 0x14, 0x7C, 0, 1, 3, 1, 2, 3}}
			b := ci.Append(nil)
			return append(wire.AppendX224Data(nil, len(b)), b...)
		}(), "GCC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := netDial(h.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(wire.AppendConnectionRequest(nil, "x", wire.ProtocolSSL))
			if _, _, err := wire.NewReader(c).Next(); err != nil {
				t.Fatal(err)
			}
			tc2 := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
			if err := tc2.Handshake(); err != nil {
				t.Fatal(err)
			}
			tc2.Write(tc.pdu)
			select {
			case err := <-h.Errs:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("ServeConn: %v, want %q", err, tc.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("ServeConn did not end")
			}
			poll(t, "the error event", func() bool {
				return countEvents(t, h, deskproto.EventError, func(e deskproto.Event) bool { return strings.Contains(e.Text, tc.want) }) == 1
			})
		})
	}
}
