package rfb

import "crypto/des"

// VNCAuthResponse answers a VNC Authentication challenge: the 16-byte
// challenge encrypted with DES (ECB) under the password's first 8 bytes
// (zero-padded), each byte's bits reversed, as every VNC server expects.
func VNCAuthResponse(password string, challenge []byte) ([]byte, error) {
	var key [8]byte
	copy(key[:], password)
	c, err := des.NewCipher(reverseBits(key[:]))
	if err != nil {
		return nil, err
	}
	if len(challenge) != 16 {
		return nil, protoErr("VNC authentication challenge of %d bytes", len(challenge))
	}
	out := make([]byte, 16)
	c.Encrypt(out[:8], challenge[:8])
	c.Encrypt(out[8:], challenge[8:])
	return out, nil
}

// vncpasswdKey is the fixed DES key vncpasswd obfuscates password files
// with.
var vncpasswdKey = []byte{23, 82, 107, 6, 35, 78, 88, 7}

// DecodePasswordFile returns the password held in a vncpasswd file (its
// first 8 bytes, DES-encrypted under a fixed key).
func DecodePasswordFile(b []byte) (string, error) {
	if len(b) < 8 {
		return "", protoErr("vncpasswd file of %d bytes", len(b))
	}
	c, err := des.NewCipher(reverseBits(vncpasswdKey))
	if err != nil {
		return "", err
	}
	var out [8]byte
	c.Decrypt(out[:], b[:8])
	n := 0
	for n < 8 && out[n] != 0 {
		n++
	}
	return string(out[:n]), nil
}

// reverseBits returns key with each byte's bits reversed: VNC's DES code
// numbers key bits the other way round from the standard.
func reverseBits(key []byte) []byte {
	out := make([]byte, len(key))
	for i, b := range key {
		for j := 0; j < 8; j++ {
			if b&(1<<j) != 0 {
				out[i] |= 0x80 >> j
			}
		}
	}
	return out
}
