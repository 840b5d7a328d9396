package container

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"
)

// Status is the machine-readable outcome of Verify.
type Status string

// The statuses.
const (
	// StatusOK: every frame matches the hash chain and the trailer is
	// signed by the expected key.
	StatusOK Status = "ok"
	// StatusUnsignedCut: every frame present matches the hash chain, but
	// the recording was cut short (no trailer, possibly a torn last frame):
	// the agent stopped before finishing it. Not tampering.
	StatusUnsignedCut Status = "unsigned_cut"
	// StatusTampered: something was altered, deleted, reordered or added.
	StatusTampered Status = "tampered"
	// StatusBadSignature: the chain is intact but the trailer's signature
	// does not verify with the expected key.
	StatusBadSignature Status = "bad_signature"
)

// Report is the result of Verify.
type Report struct {
	Status  Status `json:"status"`
	Message string `json:"message"` // one line for people

	Frames   int           `json:"frames"`      // data frames that match the chain
	RawSize  int64         `json:"raw_size"`    // inner-stream bytes in those frames
	Duration time.Duration `json:"duration_ns"` // session time of their last byte

	// Where the problem is (Status other than ok): the frame number (-1 for
	// the file header), its file offset and its session time. For
	// unsigned_cut, the last complete frame (-1 when there is none) and the
	// offset where the complete frames end.
	Frame  int           `json:"frame"`
	Offset int64         `json:"offset"`
	At     time.Duration `json:"at_ns"`

	ChainHead string `json:"chain_head"`           // hex chain hash of the last good data frame
	SignerKey string `json:"signer_key,omitempty"` // hex public key named by the trailer
}

// Verify recomputes the hash chain of the whole container and checks the
// trailer's signature with the agent's public key pub. The Report says
// whether the recording is intact and signed, cut short, altered (and
// where) or wrongly signed. The error is for read failures and a pub that
// is not an Ed25519 public key.
func Verify(r io.ReaderAt, size int64, pub ed25519.PublicKey) (Report, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Report{}, fmt.Errorf("container: verify: public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	res, err := walk(r, size)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Frames: len(res.frames), ChainHead: hex.EncodeToString(res.head[:]), Frame: -1}
	if n := len(res.frames); n > 0 {
		last := res.frames[n-1]
		rep.RawSize, rep.Duration = last.RawOffset+int64(last.RawLen), last.TLast
	}
	if res.trailer != nil {
		rep.SignerKey = hex.EncodeToString(res.trailer.SignerKey)
	}
	switch res.kind {
	case walkTampered:
		rep.Status, rep.Frame, rep.Offset, rep.At = StatusTampered, res.frame, res.offset, res.at
		switch {
		case res.frame < 0:
			rep.Message = "tampered: the file header " + res.what
		case res.trailerAt:
			rep.Message = fmt.Sprintf("tampered: the trailer (frame %d) at offset %d (session time %s) %s", res.frame, res.offset, clock(res.at), res.what)
		default:
			rep.Message = fmt.Sprintf("tampered: frame %d at offset %d (session time %s) %s", res.frame, res.offset, clock(res.at), res.what)
		}
	case walkCut:
		rep.Status, rep.Offset, rep.At = StatusUnsignedCut, res.end, rep.Duration
		rep.Frame = len(res.frames) - 1
		switch {
		case !res.hdrOK:
			rep.Message = "unsigned: recording cut before its file header was complete"
		case len(res.frames) == 0:
			rep.Message = "unsigned: recording cut before its first frame"
		default:
			rep.Message = fmt.Sprintf("unsigned: recording cut after frame %d at session time %s", rep.Frame, clock(rep.Duration))
		}
		if res.torn > 0 {
			rep.Message += fmt.Sprintf(" (a torn frame of %d bytes at offset %d ignored)", res.torn, res.end)
		}
	case walkOK:
		t := res.trailer
		rep.Frame, rep.Offset, rep.At = len(res.frames), t.Offset, t.TLast
		switch {
		case !bytes.Equal(t.SignerKey, pub):
			rep.Status = StatusBadSignature
			rep.Message = fmt.Sprintf("bad signature: the recording was signed with key %s, not the agent's key %s", fingerprint(t.SignerKey), fingerprint(pub))
		case !ed25519.Verify(pub, t.SignedMessage(), t.Signature):
			rep.Status, rep.Offset = StatusBadSignature, res.end-trailerTail
			rep.Message = fmt.Sprintf("bad signature: the trailer's signature at offset %d does not verify with the agent's key %s", rep.Offset, fingerprint(pub))
		default:
			rep.Status, rep.Frame, rep.Offset = StatusOK, -1, 0
			rep.Message = fmt.Sprintf("ok: %d frames, %d bytes, session time %s, signed by the agent's key %s", rep.Frames, rep.RawSize, clock(t.TLast), fingerprint(pub))
		}
	}
	return rep, nil
}

// fingerprint names a public key: "SHA256:" and the first 16 hex digits of
// its SHA-256.
func fingerprint(key []byte) string {
	sum := sha256.Sum256(key)
	return "SHA256:" + hex.EncodeToString(sum[:8])
}
