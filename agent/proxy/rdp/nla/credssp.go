package nla

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"time"
)

// Version is the CredSSP version the client announces.
const Version = 6

type negoToken struct {
	Token []byte `asn1:"explicit,tag:0"`
}

// tsRequestOut is a TSRequest the client sends.
type tsRequestOut struct {
	Version     int         `asn1:"explicit,tag:0"`
	NegoTokens  []negoToken `asn1:"explicit,optional,omitempty,tag:1"`
	AuthInfo    []byte      `asn1:"explicit,optional,omitempty,tag:2"`
	PubKeyAuth  []byte      `asn1:"explicit,optional,omitempty,tag:3"`
	ClientNonce []byte      `asn1:"explicit,optional,omitempty,tag:5"`
}

// TSRequest is a decoded TSRequest from the server.
type TSRequest struct {
	Version     int         `asn1:"explicit,tag:0"`
	NegoTokens  []negoToken `asn1:"explicit,optional,tag:1"`
	AuthInfo    []byte      `asn1:"explicit,optional,tag:2"`
	PubKeyAuth  []byte      `asn1:"explicit,optional,tag:3"`
	ErrorCode   int64       `asn1:"explicit,optional,tag:4"`
	ClientNonce []byte      `asn1:"explicit,optional,tag:5"`
}

type tsCredentials struct {
	CredType    int    `asn1:"explicit,tag:0"`
	Credentials []byte `asn1:"explicit,tag:1"`
}

type tsPasswordCreds struct {
	Domain   []byte `asn1:"explicit,tag:0"`
	User     []byte `asn1:"explicit,tag:1"`
	Password []byte `asn1:"explicit,tag:2"`
}

// ParseTSRequest decodes one DER TSRequest.
func ParseTSRequest(b []byte) (*TSRequest, error) {
	var r TSRequest
	rest, err := asn1.Unmarshal(b, &r)
	if err != nil {
		return nil, fmt.Errorf("%w: TSRequest: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the TSRequest", ErrMalformed, len(rest))
	}
	return &r, nil
}

// readTSRequest reads one DER SEQUENCE from r (at most 64 KiB).
func readTSRequest(r io.Reader) (*TSRequest, error) {
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	if hdr[0] != 0x30 {
		return nil, fmt.Errorf("%w: TSRequest starts with 0x%02x", ErrMalformed, hdr[0])
	}
	n := int(hdr[1])
	if n&0x80 != 0 {
		k := n & 0x7F
		if k < 1 || k > 2 {
			return nil, fmt.Errorf("%w: TSRequest length of %d bytes", ErrMalformed, k)
		}
		lb := make([]byte, k)
		if _, err := io.ReadFull(r, lb); err != nil {
			return nil, err
		}
		hdr = append(hdr, lb...)
		n = 0
		for _, c := range lb {
			n = n<<8 | int(c)
		}
	}
	buf := make([]byte, len(hdr)+n)
	copy(buf, hdr)
	if _, err := io.ReadFull(r, buf[len(hdr):]); err != nil {
		return nil, err
	}
	return ParseTSRequest(buf)
}

// Credentials are what the client proves and delegates.
type Credentials struct {
	Domain, User, Password string
}

// AuthError is the server refusing the credentials.
type AuthError struct {
	Code int64 // the NTSTATUS errorCode, 0 when the server just closed
}

func (e *AuthError) Error() string {
	switch uint32(e.Code) {
	case 0:
		return "the RDP server refused the NLA credentials (it closed the connection)"
	case 0xC000006D:
		return "the RDP server refused the NLA credentials: STATUS_LOGON_FAILURE (wrong user name or password)"
	case 0xC0000064:
		return "the RDP server refused the NLA credentials: STATUS_NO_SUCH_USER"
	case 0xC000006A:
		return "the RDP server refused the NLA credentials: STATUS_WRONG_PASSWORD"
	case 0xC0000224:
		return "the RDP server refused the NLA credentials: STATUS_PASSWORD_MUST_CHANGE"
	case 0xC0000072:
		return "the RDP server refused the NLA credentials: STATUS_ACCOUNT_DISABLED"
	}
	return fmt.Sprintf("the RDP server refused the NLA credentials: NTSTATUS 0x%08X", uint32(e.Code))
}

// Client runs CredSSP over an established TLS connection.
type Client struct {
	Creds Credentials
	// ServerCert is the server's TLS leaf certificate.
	ServerCert *x509.Certificate
	// Rand fills nonces and keys (crypto/rand by default); Now gives the
	// time when the server sends no timestamp.
	Rand func([]byte) error
	Now  func() time.Time
}

// subjectPublicKey returns the certificate's SubjectPublicKey bit string
// contents (for RSA: the DER RSAPublicKey), what CredSSP binds to.
func subjectPublicKey(c *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algo asn1.RawValue
		Key  asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, fmt.Errorf("nla: server certificate public key: %w", err)
	}
	return spki.Key.Bytes, nil
}

// Authenticate runs the exchange on rw (the TLS connection).
func (c *Client) Authenticate(rw io.ReadWriter) error {
	if c.ServerCert == nil {
		return errors.New("nla: no server certificate to bind to")
	}
	pub, err := subjectPublicKey(c.ServerCert)
	if err != nil {
		return err
	}
	n := &ntlm{user: c.Creds.User, domain: c.Creds.Domain, password: c.Creds.Password, rand: c.Rand, now: c.Now}
	if n.rand == nil {
		n.rand = randRead
	}
	if n.now == nil {
		n.now = time.Now
	}
	send := func(m tsRequestOut) error {
		b, err := asn1.Marshal(m)
		if err != nil {
			return fmt.Errorf("nla: encode TSRequest: %w", err)
		}
		_, err = rw.Write(b)
		return err
	}
	recv := func(stage string) (*TSRequest, error) {
		r, err := readTSRequest(rw)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if stage == "authenticate" {
					return nil, &AuthError{}
				}
				return nil, fmt.Errorf("nla: the server closed the connection during %s", stage)
			}
			return nil, fmt.Errorf("nla: %s: %w", stage, err)
		}
		if r.ErrorCode != 0 {
			if stage == "authenticate" {
				return nil, &AuthError{Code: r.ErrorCode}
			}
			return nil, fmt.Errorf("nla: %s: %w", stage, &AuthError{Code: r.ErrorCode})
		}
		return r, nil
	}
	if err := send(tsRequestOut{Version: Version, NegoTokens: []negoToken{{n.negotiateMessage()}}}); err != nil {
		return fmt.Errorf("nla: send negotiate: %w", err)
	}
	r, err := recv("negotiate")
	if err != nil {
		return err
	}
	if len(r.NegoTokens) != 1 {
		return fmt.Errorf("%w: the server's answer has %d NTLM tokens", ErrMalformed, len(r.NegoTokens))
	}
	peer := min(r.Version, Version)
	auth, err := n.authenticateMessage(r.NegoTokens[0].Token)
	if err != nil {
		return err
	}
	out := tsRequestOut{Version: Version, NegoTokens: []negoToken{{auth}}}
	var want []byte
	if peer >= 5 {
		nonce := make([]byte, 32)
		if err := n.rand(nonce); err != nil {
			return err
		}
		out.ClientNonce = nonce
		out.PubKeyAuth = n.seal(bindingHash("CredSSP Client-To-Server Binding Hash\x00", nonce, pub))
		want = bindingHash("CredSSP Server-To-Client Binding Hash\x00", nonce, pub)
	} else {
		out.PubKeyAuth = n.seal(pub)
		want = append([]byte(nil), pub...)
		want[0]++
	}
	if err := send(out); err != nil {
		return fmt.Errorf("nla: send authenticate: %w", err)
	}
	r, err = recv("authenticate")
	if err != nil {
		return err
	}
	got, err := n.unseal(r.PubKeyAuth)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return errors.New("nla: the server's public key proof does not match its TLS certificate (a man in the middle?)")
	}
	creds, err := asn1.Marshal(tsPasswordCreds{Domain: utf16le(c.Creds.Domain), User: utf16le(c.Creds.User), Password: utf16le(c.Creds.Password)})
	if err != nil {
		return err
	}
	ts, err := asn1.Marshal(tsCredentials{CredType: 1, Credentials: creds})
	if err != nil {
		return err
	}
	if err := send(tsRequestOut{Version: Version, AuthInfo: n.seal(ts)}); err != nil {
		return fmt.Errorf("nla: send credentials: %w", err)
	}
	return nil
}

func bindingHash(magic string, nonce, pub []byte) []byte {
	h := sha256.New()
	h.Write([]byte(magic))
	h.Write(nonce)
	h.Write(pub)
	return h.Sum(nil)
}
