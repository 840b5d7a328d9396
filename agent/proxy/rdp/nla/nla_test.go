package nla

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

// TestNTOWFv2 checks the key derivation against MS-NLMP 4.2.4.1.1
// (user "User", domain "Domain", password "Password").
func TestNTOWFv2(t *testing.T) {
	got := hex.EncodeToString(ntowfv2("User", "Domain", "Password"))
	if got != "0c868a403bfd7a93a3001ef22ef02e3f" {
		t.Fatalf("NTOWFv2 = %s", got)
	}
}

// challengeFor builds a CHALLENGE_MESSAGE with target info.
func challengeFor(flags uint32, serverChallenge []byte, ti []byte) []byte {
	b := append([]byte(nil), ntlmSignature...)
	b = append(b, 2, 0, 0, 0)
	b = append(b, 0, 0, 0, 0, 56, 0, 0, 0) // target name: empty
	b = append(b, byte(flags), byte(flags>>8), byte(flags>>16), byte(flags>>24))
	b = append(b, serverChallenge...)
	b = append(b, make([]byte, 8)...)
	b = append(b, byte(len(ti)), byte(len(ti)>>8), byte(len(ti)), byte(len(ti)>>8), 56, 0, 0, 0)
	b = append(b, make([]byte, 8)...)
	return append(b, ti...)
}

// TestAuthenticateMessage checks the NTLMv2 response against what a
// server computes from the same password, and that sealing round-trips
// with a server using the derived keys.
func TestAuthenticateMessage(t *testing.T) {
	ti := []byte{2, 0, 4, 0, 'D', 0, 'M', 0, 7, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0}
	sc := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	n := &ntlm{user: "alice", domain: "DM", password: "pw", rand: randRead, now: time.Now}
	n.negotiateMessage()
	auth, err := n.authenticateMessage(challengeFor(clientFlags, sc, ti))
	if err != nil {
		t.Fatal(err)
	}
	nt, err := field(auth, 20)
	if err != nil {
		t.Fatal(err)
	}
	key := ntowfv2("alice", "DM", "pw")
	if !bytes.Equal(nt[:16], hmacMD5(key, sc, nt[16:])) {
		t.Fatal("NTProofStr does not verify")
	}
	if !bytes.Contains(nt[16:], []byte{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Fatal("the server's timestamp is not used")
	}
	user, _ := field(auth, 36)
	if !bytes.Equal(user, utf16le("alice")) {
		t.Fatalf("user field %x", user)
	}
	// The server side: recover the exported key and check the MIC.
	encKey, _ := field(auth, 52)
	base := hmacMD5(key, nt[:16])
	srv := &ntlm{}
	exported := make([]byte, 16)
	c := mustRC4(base)
	c.XORKeyStream(exported, encKey)
	if !bytes.Equal(exported, n.exportedKey) {
		t.Fatal("exchanged session key")
	}
	zeroMIC := append([]byte(nil), auth...)
	copy(zeroMIC[72:88], make([]byte, 16))
	if !bytes.Equal(auth[72:88], hmacMD5(exported, n.negotiate, n.challenge, zeroMIC)) {
		t.Fatal("MIC")
	}
	// Seal from the client, unseal as the server (mirror the keys).
	srv.serverSeal = mustRC4(derive(exported, "session key to client-to-server sealing key magic constant\x00"))
	srv.serverSign = derive(exported, "session key to client-to-server signing key magic constant\x00")
	for i, msg := range []string{"first", "second message"} {
		got, err := srv.unseal(n.seal([]byte(msg)))
		if err != nil || string(got) != msg {
			t.Fatalf("message %d: %q %v", i, got, err)
		}
	}
	sealed := n.seal([]byte("tampered"))
	sealed[len(sealed)-1] ^= 1
	if _, err := srv.unseal(sealed); err == nil {
		t.Fatal("a tampered message unsealed")
	}
}

func TestChallengeErrors(t *testing.T) {
	n := &ntlm{rand: randRead, now: time.Now}
	n.negotiateMessage()
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"short", []byte("NTLMSSP\x00")},
		{"no target info terminator", challengeFor(clientFlags, make([]byte, 8), []byte{2, 0, 9, 0, 1})},
		{"target info beyond the message", func() []byte { b := challengeFor(clientFlags, make([]byte, 8), nil); b[40] = 200; return b }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := n.authenticateMessage(tc.msg); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v", err)
			}
		})
	}
	if _, err := n.authenticateMessage(challengeFor(clientFlags&^flagKeyExch, make([]byte, 8), []byte{0, 0, 0, 0})); err == nil {
		t.Fatal("a server without key exchange was accepted")
	}
}

func FuzzTSRequest(f *testing.F) {
	f.Add([]byte{0x30, 0x05, 0xA0, 0x03, 0x02, 0x01, 0x06})
	f.Add([]byte{0x30, 0x0C, 0xA0, 0x03, 0x02, 0x01, 0x06, 0xA4, 0x05, 0x02, 0x03, 0xC0, 0x00, 0x6D})
	f.Add(challengeFor(clientFlags, make([]byte, 8), []byte{0, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseTSRequest(b)
		readTSRequest(bytes.NewReader(b))
		n := &ntlm{rand: randRead, now: time.Now}
		n.negotiateMessage()
		n.authenticateMessage(b)
	})
}
