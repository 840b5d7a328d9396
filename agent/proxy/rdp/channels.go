package rdp

import (
	"strconv"
	"strings"

	"github.com/onepam/onepam/agent/proxy/rdp/vchan"
	"github.com/onepam/onepam/agent/proxy/rdp/wire"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// Static virtual channels: the agent withholds from the server the
// dynamic channel (always: no graphics pipeline) and, by policy, the
// clipboard and device redirection channels; it audits the clipboard
// and drives (package vchan) as file activity reported to control and
// clipboard events in the recording.

// Protocols of the file events of RDP channels (api.FileEvent.Protocol).
const (
	protoClipboard = "rdp-clipboard"
	protoDrive     = "rdp-drive"
)

// withhold says why a client channel is kept from the server ("": it
// is not).
func (r *rdpRelay) withhold(name string) string {
	switch strings.ToLower(name) {
	case "drdynvc":
		return "dynamic virtual channels (graphics pipeline) are not relayed"
	case vchan.Clipboard:
		if r.s.tc.DisableClipboard {
			return "the resource disables the clipboard"
		}
	case vchan.Drives:
		if r.s.tc.DisableDrives {
			return "the resource disables drive redirection"
		}
	}
	return ""
}

// recordChannels logs and records the client's channels and which the
// server got.
func (r *rdpRelay) recordChannels(chans []wire.Channel, keep []bool) {
	var names []string
	for i, c := range chans {
		n := c.Name
		if !keep[i] {
			n += " (withheld)"
		}
		names = append(names, n)
	}
	list := strings.Join(names, ", ")
	r.s.log.Info("rdp: static virtual channels", "conn", r.id, "channels", list)
	if list != "" {
		r.s.record(r.s.enc.Meta(r.s.since(), "channels", list))
	}
}

// auditChannel hands a channel's data to the audit; an error ends the
// audit of that channel, never the relay.
func (r *rdpRelay) auditChannel(id uint16, dir vchan.Dir, data []byte) {
	if id == r.ioChannel || id == r.msgChannel && r.msgChannel != 0 {
		return
	}
	if err := r.audit.Feed(id, dir, data); err != nil {
		r.s.log.Warn("rdp: channel audit stopped", "conn", r.id, "err", err)
		r.s.record(r.s.enc.Meta(r.s.since(), "audit", err.Error()))
	}
}

// audited records one audited action: clipboard data in the recording,
// and every action as a file event for control.
func (r *rdpRelay) audited(ev vchan.Event) {
	if ev.Clip {
		r.s.record(r.s.enc.Clipboard(r.s.since(), deskproto.ClipDir(ev.Dir), int(ev.Bytes), ev.Text))
	}
	fe := api.FileEvent{Protocol: protoDrive, Op: ev.Op, Path: ev.Path, Path2: ev.Path2, Bytes: ev.Bytes}
	if ev.Channel == vchan.Clipboard {
		fe.Protocol = protoClipboard
		if ev.Text != nil {
			fe.Path += " " + quoteSample(ev.Text, clipSampleRunes)
		}
	}
	r.s.report(fe)
}

// clipSampleRunes is the most characters of clipboard text a file
// event's path shows (the recording keeps up to Config.ClipboardCap).
const clipSampleRunes = 64

// quoteSample quotes the start of text for a file event's path.
func quoteSample(text []byte, n int) string {
	r := []rune(string(text))
	s := string(r[:min(len(r), n)])
	if len(r) > n {
		s += "…"
	}
	return strconv.Quote(s)
}
