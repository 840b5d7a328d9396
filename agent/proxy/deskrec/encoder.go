package deskrec

import (
	"fmt"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// Recording is the part of the desktop proxies' Config that shapes the
// recording (embedded in vnc.Config and rdp.Config). Zero fields take the
// defaults of WithDefaults.
type Recording struct {
	// KeyframeInterval is the longest time between recording keyframes
	// while the screen changes. Default 10 s.
	KeyframeInterval time.Duration
	// KeyframeBytes writes a keyframe early after this many recorded
	// bytes. Default 8 MiB.
	KeyframeBytes int64
	// ClipboardCap is the most clipboard text recorded per transfer, in
	// bytes of UTF-8. Default 4096.
	ClipboardCap int
}

// WithDefaults returns r with its zero fields set to the defaults.
func (r Recording) WithDefaults() Recording {
	if r.KeyframeInterval <= 0 {
		r.KeyframeInterval = 10 * time.Second
	}
	if r.KeyframeBytes <= 0 {
		r.KeyframeBytes = 8 << 20
	}
	if r.ClipboardCap <= 0 {
		r.ClipboardCap = 4096
	}
	return r
}

// NewEncoder starts the deskproto recording of a desktop session of
// protocol ("vnc", "rdp") that started at start, writing to the session's
// recorder; its header names the session, resource, target and user.
func (r Recording) NewEncoder(info *proxy.SessionInfo, protocol string, start time.Time) (*deskproto.Encoder, error) {
	hdr := deskproto.Header{
		Start: start,
		Meta: map[string]string{
			"session_id": info.Open.SessionID,
			"protocol":   protocol,
			"resource":   info.Target.Name,
			"target":     info.Target.Address,
			"user":       info.Open.User,
		},
	}
	enc, err := deskproto.NewEncoder(info.Recorder, hdr, deskproto.EncoderConfig{
		KeyframeInterval: r.KeyframeInterval,
		KeyframeBytes:    r.KeyframeBytes,
		ClipboardCap:     r.ClipboardCap,
	})
	if err != nil {
		return nil, fmt.Errorf("start recording: %w", err)
	}
	return enc, nil
}
