package nla

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"golang.org/x/crypto/md4"
)

// NTLM negotiate flags used here.
const (
	flagUnicode       = 0x00000001
	flagRequestTarget = 0x00000004
	flagSign          = 0x00000010
	flagSeal          = 0x00000020
	flagNTLM          = 0x00000200
	flagAlwaysSign    = 0x00008000
	flagESS           = 0x00080000 // extended session security
	flagTargetInfo    = 0x00800000
	flagVersion       = 0x02000000
	flag128           = 0x20000000
	flagKeyExch       = 0x40000000
	flag56            = 0x80000000
	clientFlags       = flag56 | flagKeyExch | flag128 | flagVersion | flagESS | flagAlwaysSign | flagNTLM | flagSeal | flagSign | flagRequestTarget | flagUnicode
	avEOL             = 0
	avFlags           = 6
	avTimestamp       = 7
	avFlagMICPresent  = 2
)

var ntlmSignature = []byte("NTLMSSP\x00")

// ErrMalformed is wrapped by decoding errors of server messages.
var ErrMalformed = errors.New("nla: malformed message")

// ntlm is the client side of one NTLM exchange.
type ntlm struct {
	user, domain, password string
	rand                   func([]byte) error
	now                    func() time.Time

	negotiate, challenge   []byte
	flags                  uint32
	exportedKey            []byte
	clientSeal, serverSeal *rc4.Cipher
	clientSign, serverSign []byte
	seqOut, seqIn          uint32
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// negotiateMessage builds the NEGOTIATE_MESSAGE: signature, type 1,
// flags, empty domain and workstation fields, version.
func (n *ntlm) negotiateMessage() []byte {
	b := append([]byte(nil), ntlmSignature...)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, clientFlags)
	b = append(b, make([]byte, 16)...)
	b = append(b, 10, 0, 0x63, 0x45, 0, 0, 0, 15) // version 10.0 build 17763, NTLM revision 15
	n.negotiate = b
	return b
}

type challengeMsg struct {
	flags      uint32
	challenge  [8]byte
	targetInfo []byte
}

func field(msg []byte, at int) ([]byte, error) {
	if len(msg) < at+8 {
		return nil, fmt.Errorf("%w: NTLM field header", ErrMalformed)
	}
	l, off := int(binary.LittleEndian.Uint16(msg[at:])), int(binary.LittleEndian.Uint32(msg[at+4:]))
	if l == 0 {
		return nil, nil
	}
	if off < 0 || off > len(msg) || l > len(msg)-off {
		return nil, fmt.Errorf("%w: NTLM field at %d+%d beyond %d bytes", ErrMalformed, off, l, len(msg))
	}
	return msg[off : off+l], nil
}

func parseChallenge(msg []byte) (*challengeMsg, error) {
	if len(msg) < 48 || !bytes.Equal(msg[:8], ntlmSignature) || binary.LittleEndian.Uint32(msg[8:]) != 2 {
		return nil, fmt.Errorf("%w: not an NTLM CHALLENGE_MESSAGE", ErrMalformed)
	}
	c := &challengeMsg{flags: binary.LittleEndian.Uint32(msg[20:])}
	copy(c.challenge[:], msg[24:32])
	ti, err := field(msg, 40)
	if err != nil {
		return nil, err
	}
	c.targetInfo = ti
	return c, nil
}

// avPairs splits target info into (id, value) pairs up to MsvAvEOL.
func avPairs(ti []byte) ([][2][]byte, error) {
	var out [][2][]byte
	for {
		if len(ti) < 4 {
			return nil, fmt.Errorf("%w: NTLM target info without MsvAvEOL", ErrMalformed)
		}
		id, l := binary.LittleEndian.Uint16(ti), int(binary.LittleEndian.Uint16(ti[2:]))
		if id == avEOL {
			return out, nil
		}
		if len(ti) < 4+l {
			return nil, fmt.Errorf("%w: NTLM AV pair %d of %d bytes", ErrMalformed, id, l)
		}
		out = append(out, [2][]byte{ti[:2], ti[4 : 4+l]})
		ti = ti[4+l:]
	}
}

func hmacMD5(key []byte, parts ...[]byte) []byte {
	h := hmac.New(md5.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// ntowfv2 is NTOWFv2: HMAC-MD5(MD4(UTF-16 password), UTF-16(upper(user)
// + domain)).
func ntowfv2(user, domain, password string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
}

// authenticateMessage answers a CHALLENGE_MESSAGE with an NTLMv2
// AUTHENTICATE_MESSAGE and sets up sealing.
func (n *ntlm) authenticateMessage(challenge []byte) ([]byte, error) {
	c, err := parseChallenge(challenge)
	if err != nil {
		return nil, err
	}
	n.challenge = append([]byte(nil), challenge...)
	n.flags = clientFlags & c.flags
	if n.flags&flagESS == 0 || n.flags&flagSeal == 0 || n.flags&flagKeyExch == 0 || n.flags&flag128 == 0 {
		return nil, fmt.Errorf("nla: the server's NTLM flags 0x%08x lack extended session security, 128-bit sealing or key exchange", c.flags)
	}
	pairs, err := avPairs(c.targetInfo)
	if err != nil {
		return nil, err
	}
	var ts []byte
	var ti []byte
	for _, p := range pairs {
		id := binary.LittleEndian.Uint16(p[0])
		if id == avFlags {
			continue
		}
		if id == avTimestamp {
			ts = p[1]
		}
		ti = binary.LittleEndian.AppendUint16(ti, id)
		ti = binary.LittleEndian.AppendUint16(ti, uint16(len(p[1])))
		ti = append(ti, p[1]...)
	}
	ti = append(ti, avFlags, 0, 4, 0)
	ti = binary.LittleEndian.AppendUint32(ti, avFlagMICPresent)
	ti = append(ti, 0, 0, 0, 0)
	if len(ts) != 8 {
		ft := uint64(n.now().UnixNano()/100) + 116444736000000000
		ts = binary.LittleEndian.AppendUint64(nil, ft)
	}
	cc := make([]byte, 8)
	if err := n.rand(cc); err != nil {
		return nil, err
	}
	temp := []byte{1, 1, 0, 0, 0, 0, 0, 0}
	temp = append(temp, ts...)
	temp = append(temp, cc...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, ti...)
	temp = append(temp, 0, 0, 0, 0)
	key := ntowfv2(n.user, n.domain, n.password)
	proof := hmacMD5(key, c.challenge[:], temp)
	nt := append(append([]byte(nil), proof...), temp...)
	lm := make([]byte, 24)
	sessionBase := hmacMD5(key, proof)
	n.exportedKey = make([]byte, 16)
	if err := n.rand(n.exportedKey); err != nil {
		return nil, err
	}
	encKey := make([]byte, 16)
	rc, _ := rc4.NewCipher(sessionBase)
	rc.XORKeyStream(encKey, n.exportedKey)

	domain, user, ws := utf16le(n.domain), utf16le(n.user), []byte(nil)
	payload := [][]byte{lm, nt, domain, user, ws, encKey}
	const hdr = 88
	b := append([]byte(nil), ntlmSignature...)
	b = binary.LittleEndian.AppendUint32(b, 3)
	off := hdr
	for _, p := range payload {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p)))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p)))
		b = binary.LittleEndian.AppendUint32(b, uint32(off))
		off += len(p)
	}
	b = binary.LittleEndian.AppendUint32(b, n.flags)
	b = append(b, 10, 0, 0x63, 0x45, 0, 0, 0, 15)
	micAt := len(b)
	b = append(b, make([]byte, 16)...)
	for _, p := range payload {
		b = append(b, p...)
	}
	mic := hmacMD5(n.exportedKey, n.negotiate, n.challenge, b)
	copy(b[micAt:], mic)

	n.clientSign = derive(n.exportedKey, "session key to client-to-server signing key magic constant\x00")
	n.serverSign = derive(n.exportedKey, "session key to server-to-client signing key magic constant\x00")
	n.clientSeal, _ = rc4.NewCipher(derive(n.exportedKey, "session key to client-to-server sealing key magic constant\x00"))
	n.serverSeal, _ = rc4.NewCipher(derive(n.exportedKey, "session key to server-to-client sealing key magic constant\x00"))
	return b, nil
}

func derive(key []byte, magic string) []byte {
	h := md5.New()
	h.Write(key)
	h.Write([]byte(magic))
	return h.Sum(nil)
}

// seal encrypts msg for the server: signature (16 bytes) ‖ sealed msg.
func (n *ntlm) seal(msg []byte) []byte {
	out := make([]byte, 16+len(msg))
	n.clientSeal.XORKeyStream(out[16:], msg)
	seq := binary.LittleEndian.AppendUint32(nil, n.seqOut)
	sum := hmacMD5(n.clientSign, seq, msg)[:8]
	binary.LittleEndian.PutUint32(out, 1)
	n.clientSeal.XORKeyStream(out[4:12], sum)
	copy(out[12:], seq)
	n.seqOut++
	return out
}

// unseal decrypts and checks a message from the server.
func (n *ntlm) unseal(b []byte) ([]byte, error) {
	if len(b) < 16 || binary.LittleEndian.Uint32(b) != 1 {
		return nil, fmt.Errorf("%w: sealed message without an NTLM signature", ErrMalformed)
	}
	msg := make([]byte, len(b)-16)
	n.serverSeal.XORKeyStream(msg, b[16:])
	sum := make([]byte, 8)
	n.serverSeal.XORKeyStream(sum, b[4:12])
	seq := b[12:16]
	if binary.LittleEndian.Uint32(seq) != n.seqIn || !hmac.Equal(sum, hmacMD5(n.serverSign, seq, msg)[:8]) {
		return nil, errors.New("nla: the server's sealed message has a bad signature")
	}
	n.seqIn++
	return msg, nil
}

func randRead(b []byte) error {
	_, err := rand.Read(b)
	return err
}

func mustRC4(key []byte) *rc4.Cipher {
	c, err := rc4.NewCipher(key)
	if err != nil {
		panic(err) // only for key lengths outside 1..256, never from here
	}
	return c
}
