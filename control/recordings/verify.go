package recordings

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// VerifySession checks the stored recording blob of session s against the
// signing keys its agent announced (oldest first) and says whether it is
// intact, and where it is not (see api.RecordingVerification). A
// recording whose trailer names a key the agent never announced fails as
// bad_signature. An unsigned (cut) recording is intact when its session
// failed or is still running, and not when the session ended normally.
func VerifySession(blob Blob, s api.Session, keys [][]byte) (api.RecordingVerification, error) {
	v := api.RecordingVerification{SessionID: s.ID, Agent: s.Agent, SessionStatus: s.Status, StoredSize: blob.Size(), Frame: -1}
	head := make([]byte, len(container.Magic))
	if n, _ := blob.ReadAt(head, 0); n < len(head) || !IsContainer(head) {
		v.Status = "unverifiable"
		v.Message = fmt.Sprintf("the recording of session %s was stored before recordings were signed containers: it cannot be verified", s.ID)
		return v, nil
	}
	// The key to check with: the one the trailer names when the agent
	// announced it, else the agent's newest (Verify then reports the
	// mismatch).
	var key ed25519.PublicKey
	if len(keys) > 0 {
		key = keys[len(keys)-1]
	}
	if rd, err := container.Open(blob, blob.Size()); err == nil {
		if t, ok := rd.Trailer(); ok {
			for _, k := range keys {
				if bytes.Equal(k, t.SignerKey) {
					key = k
				}
			}
		}
	}
	if len(key) != ed25519.PublicKeySize {
		// No key known: check the chain only; a signed recording cannot
		// be trusted.
		key = make([]byte, ed25519.PublicKeySize)
	}
	rep, err := container.Verify(blob, blob.Size(), key)
	if err != nil {
		return v, fmt.Errorf("verify the recording of session %s: %w", s.ID, err)
	}
	v.Frames, v.RawSize, v.Duration = rep.Frames, rep.RawSize, rep.Duration.Seconds()
	v.Frame, v.Offset, v.AtSeconds, v.SignerKey = rep.Frame, rep.Offset, rep.At.Seconds(), rep.SignerKey
	switch rep.Status {
	case container.StatusOK:
		v.Status, v.Intact, v.Message = "ok", true, rep.Message
	case container.StatusTampered:
		v.Status, v.Message = "tampered", rep.Message
	case container.StatusBadSignature:
		v.Status, v.Message = "bad_signature", rep.Message
		if len(keys) == 0 {
			v.Message = fmt.Sprintf("bad signature: agent %q never announced a recording signing key, so the signature (key %s) cannot be trusted", s.Agent, shortKey(rep.SignerKey))
		} else if !knownKey(keys, rep.SignerKey) {
			v.Message = fmt.Sprintf("bad signature: the recording was signed with key %s, which agent %q never announced", shortKey(rep.SignerKey), s.Agent)
		}
	case container.StatusUnsignedCut:
		switch {
		case !s.Status.Terminal():
			v.Status, v.Intact = "recording", true
			v.Message = fmt.Sprintf("recording in progress: %d frames so far, every one intact (session time %s)", rep.Frames, clock(rep.Duration.Seconds()))
		case s.Status == api.StatusFailed:
			v.Status, v.Intact = "cut", true
			v.Message = fmt.Sprintf("cut at frame %d, offset %d, session time %s: the session failed (%s) before the agent could sign the recording; every frame kept is intact", rep.Frame, rep.Offset, clock(rep.At.Seconds()), s.Error)
		default:
			v.Status = "cut"
			v.Message = fmt.Sprintf("cut at frame %d, offset %d, session time %s: the session ended %s but its recording is not signed, so its end was removed", rep.Frame, rep.Offset, clock(rep.At.Seconds()), s.Status)
		}
	}
	return v, nil
}

func knownKey(keys [][]byte, hexKey string) bool {
	for _, k := range keys {
		if hex.EncodeToString(k) == hexKey {
			return true
		}
	}
	return false
}

func shortKey(hexKey string) string {
	if len(hexKey) > 16 {
		return hexKey[:16] + "…"
	}
	return hexKey
}

// clock formats seconds as h:mm:ss.mmm.
func clock(sec float64) string {
	ms := int64(sec * 1000)
	return fmt.Sprintf("%d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
