package mysql

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
)

// nativePassword is mysql_native_password's answer to scramble:
// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). An empty
// password answers nothing.
func nativePassword(scramble []byte, password string) []byte {
	if password == "" {
		return nil
	}
	scramble = trimScramble(scramble, 20)
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	h := sha1.New()
	h.Write(scramble)
	h.Write(h2[:])
	out := h.Sum(nil)
	for i := range out {
		out[i] ^= h1[i]
	}
	return out
}

// cachingSHA2Password is caching_sha2_password's fast-auth answer:
// SHA256(password) XOR SHA256(SHA256(SHA256(password)) + scramble).
func cachingSHA2Password(scramble []byte, password string) []byte {
	if password == "" {
		return nil
	}
	scramble = trimScramble(scramble, 20)
	h1 := sha256.Sum256([]byte(password))
	h2 := sha256.Sum256(h1[:])
	h := sha256.New()
	h.Write(h2[:])
	h.Write(scramble)
	out := h.Sum(nil)
	for i := range out {
		out[i] ^= h1[i]
	}
	return out
}

// ed25519Password is MariaDB's client_ed25519 answer: an Ed25519
// signature of the server's nonce with the key whose secret scalar is
// derived from SHA512(password), as in RFC 8032 with the password in
// place of the 32-byte seed.
func ed25519Password(nonce []byte, password string) ([]byte, error) {
	h := sha512.Sum512([]byte(password))
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, fmt.Errorf("client_ed25519: %w", err)
	}
	pub := new(edwards25519.Point).ScalarBaseMult(s).Bytes()

	rh := sha512.New()
	rh.Write(h[32:])
	rh.Write(nonce)
	r, err := edwards25519.NewScalar().SetUniformBytes(rh.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("client_ed25519: %w", err)
	}
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()

	kh := sha512.New()
	kh.Write(R)
	kh.Write(pub)
	kh.Write(nonce)
	k, err := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("client_ed25519: %w", err)
	}
	S := edwards25519.NewScalar().MultiplyAdd(k, s, r)
	return append(R, S.Bytes()...), nil
}

// rsaEncryptPassword encrypts password+NUL, XORed with the scramble, with
// the server's RSA public key (PEM) using OAEP with SHA-1, as
// caching_sha2_password's full authentication without TLS expects.
func rsaEncryptPassword(pemKey []byte, scramble []byte, password string) ([]byte, error) {
	pub, err := parseRSAPublicKey(pemKey)
	if err != nil {
		return nil, err
	}
	scramble = trimScramble(scramble, 20)
	if len(scramble) == 0 {
		return nil, errors.New("caching_sha2_password: empty scramble")
	}
	plain := append([]byte(password), 0)
	for i := range plain {
		plain[i] ^= scramble[i%len(scramble)]
	}
	out, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, plain, nil)
	if err != nil {
		return nil, fmt.Errorf("caching_sha2_password: encrypt the password with the server's key: %w", err)
	}
	return out, nil
}

// parseRSAPublicKey reads a PEM "PUBLIC KEY" (PKIX) or "RSA PUBLIC KEY"
// (PKCS #1) block.
func parseRSAPublicKey(pemKey []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return nil, errors.New("server public key: no PEM block")
	}
	if block.Type == "RSA PUBLIC KEY" {
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("server public key: %w", err)
		}
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("server public key: %w", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("server public key is a %T, not RSA", k)
	}
	return rk, nil
}

// trimScramble drops the NUL that servers append to a scramble.
func trimScramble(s []byte, n int) []byte {
	if len(s) == n+1 && s[n] == 0 {
		return s[:n]
	}
	return s
}

// newScramble returns 20 random printable bytes (no NUL, as clients
// expect of a handshake's scramble).
func newScramble() ([]byte, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("scramble: %w", err)
	}
	for i := range b {
		b[i] = 0x21 + b[i]%94
	}
	return b, nil
}
