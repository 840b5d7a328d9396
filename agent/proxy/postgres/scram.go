package postgres

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// scramMechanism is the only SASL mechanism the agent uses. Channel
// binding (SCRAM-SHA-256-PLUS) is not offered: the client sends the gs2
// header "n,,", which PostgreSQL accepts with or without TLS.
const scramMechanism = "SCRAM-SHA-256"

// maxSCRAMIterations bounds the PBKDF2 work a server can ask for
// (PostgreSQL's default is 4096).
const maxSCRAMIterations = 1 << 22

// scramClient is the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as
// PostgreSQL uses it: the user name is sent in the startup message, so the
// SCRAM user name is empty. The password is used as given (no SASLprep,
// which changes only non-ASCII passwords that need normalising).
type scramClient struct {
	password    string
	user        string // n= attribute; "" for PostgreSQL
	clientNonce string

	clientFirstBare string
	authMessage     []byte
	saltedPassword  []byte
}

func newSCRAMClient(password string) (*scramClient, error) {
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("scram nonce: %w", err)
	}
	return &scramClient{password: password, clientNonce: base64.RawStdEncoding.EncodeToString(raw)}, nil
}

// clientFirst returns the client-first-message.
func (c *scramClient) clientFirst() []byte {
	c.clientFirstBare = "n=" + c.user + ",r=" + c.clientNonce
	return []byte("n,," + c.clientFirstBare)
}

// clientFinal reads the server-first-message and returns the
// client-final-message with the proof.
func (c *scramClient) clientFinal(serverFirst []byte) ([]byte, error) {
	var nonce, salt string
	iter := -1
	for _, attr := range strings.Split(string(serverFirst), ",") {
		k, v, ok := strings.Cut(attr, "=")
		if !ok {
			continue
		}
		switch k {
		case "r":
			nonce = v
		case "s":
			salt = v
		case "i":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("scram: bad iteration count %q", v)
			}
			iter = n
		case "e":
			return nil, fmt.Errorf("scram: server error %q", v)
		}
	}
	if !strings.HasPrefix(nonce, c.clientNonce) || len(nonce) == len(c.clientNonce) {
		return nil, errors.New("scram: the server's nonce does not extend the client's")
	}
	saltBytes, err := base64.StdEncoding.DecodeString(salt)
	if err != nil || len(saltBytes) == 0 {
		return nil, errors.New("scram: bad salt from the server")
	}
	if iter < 1 || iter > maxSCRAMIterations {
		return nil, fmt.Errorf("scram: iteration count %d out of range (1 to %d)", iter, maxSCRAMIterations)
	}
	c.saltedPassword, err = pbkdf2.Key(sha256.New, c.password, saltBytes, iter, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("scram: %w", err)
	}
	withoutProof := "c=biws,r=" + nonce // biws = base64("n,,")
	c.authMessage = []byte(c.clientFirstBare + "," + string(serverFirst) + "," + withoutProof)
	clientKey := hmacSHA256(c.saltedPassword, []byte("Client Key"))
	storedKey := sha256.Sum256(clientKey)
	sig := hmacSHA256(storedKey[:], c.authMessage)
	proof := make([]byte, len(clientKey))
	for i := range clientKey {
		proof[i] = clientKey[i] ^ sig[i]
	}
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// verifyServerFinal checks the server-final-message's signature: it proves
// the server knows the password too.
func (c *scramClient) verifyServerFinal(serverFinal []byte) error {
	s := string(serverFinal)
	if e, ok := strings.CutPrefix(s, "e="); ok {
		return fmt.Errorf("scram: server error %q", e)
	}
	v, ok := strings.CutPrefix(s, "v=")
	if !ok {
		return errors.New("scram: server-final-message has no verifier")
	}
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	got, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return errors.New("scram: bad server verifier")
	}
	serverKey := hmacSHA256(c.saltedPassword, []byte("Server Key"))
	want := hmacSHA256(serverKey, c.authMessage)
	if !hmac.Equal(got, want) {
		return errors.New("scram: the server's signature is wrong (it does not know the password)")
	}
	return nil
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// md5Password is PostgreSQL's md5 response: "md5" + md5hex(md5hex(password
// + user) + salt).
func md5Password(user, password string, salt [4]byte) string {
	inner := md5Hex([]byte(password + user))
	return "md5" + md5Hex(append([]byte(inner), salt[:]...))
}

func hasMechanism(list []string, m string) bool {
	for _, x := range list {
		if x == m {
			return true
		}
	}
	return false
}
