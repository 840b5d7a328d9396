package vchan

import (
	"encoding/binary"
	"testing"
)

// seedMessages are spec-shaped messages of both channels.
func seedMessages() [][]byte {
	return [][]byte{
		clipCaps(true),
		longFormatList(format{13, ""}, format{49350, "FileGroupDescriptorW"}),
		shortFormatList(true, format{1, "x"}),
		dataRequest(13),
		dataResponse(utf16z("text")),
		dataResponse(fileList(clipFile{name: "a.txt", size: 3})),
		contentsRequest(1, 0, 0, 3),
		contentsResponse(1, []byte("abc")),
		driveAnnounce(1, "C", "c"),
		createRequest(1, 1, `\a`, fileCreate, 0),
		createCompletion(1, 1, 2, fileCreated),
		rwRequest(1, 2, 2, irpWrite, 3, []byte("abc")),
		writeCompletion(1, 2, 3),
		readCompletion(1, 3, []byte("abc")),
		setInfoRequest(1, 2, 4, fileRenameInfo, renameInfo(`\b`)),
		queryDirRequest(1, 2, 5, true),
		closeRequest(1, 2, 6),
	}
}

// FuzzAudit feeds a sequence of channel PDUs, each prefixed by a
// control byte (bit 0: direction, bit 1: the drive channel; then a
// 2-byte length), to an audit of both channels: it must never panic,
// and once a channel's audit failed it reports no further error.
func FuzzAudit(f *testing.F) {
	var all []byte
	for i, m := range seedMessages() {
		id := byte(0)
		if i >= 8 {
			id = 2
		}
		for _, c := range chunks(m, 100) {
			all = append(all, id|byte(i&1))
			all = binary.LittleEndian.AppendUint16(all, uint16(len(c)))
			all = append(all, c...)
		}
	}
	f.Add(all)
	f.Add([]byte{0, 8, 0, 1, 0, 0, 0, 3, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a := NewAudit(Config{MaxMessage: 4096, TextMax: 64}, func(Event) {})
		a.Join(clipID, Clipboard)
		a.Join(driveID, Drives)
		failed := map[uint16]bool{}
		for len(b) >= 3 {
			ctl, n := b[0], int(binary.LittleEndian.Uint16(b[1:]))
			b = b[3:]
			n = min(n, len(b))
			id := uint16(clipID)
			if ctl&2 != 0 {
				id = driveID
			}
			err := a.Feed(id, Dir(ctl&1), b[:n])
			if err != nil && failed[id] {
				t.Fatalf("channel %d reported a second error: %v", id, err)
			}
			failed[id] = failed[id] || err != nil
			b = b[n:]
		}
		a.Flush()
	})
}

// FuzzMessage decodes one reassembled message of either channel in
// either direction.
func FuzzMessage(f *testing.F) {
	for _, m := range seedMessages() {
		f.Add(m, byte(0))
		f.Add(m, byte(3))
	}
	f.Fuzz(func(t *testing.T, b []byte, ctl byte) {
		var dec decoder = newClipboard(Config{}.withDefaults())
		if ctl&2 != 0 {
			d := newDrives()
			d.devices[1] = "c"
			dec = d
		}
		dec.message(Dir(ctl&1), Message{Data: b, Total: len(b)}, func(Event) {})
		dec.flush(func(Event) {})
	})
}
