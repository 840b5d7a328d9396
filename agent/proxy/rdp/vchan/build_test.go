package vchan

import (
	"encoding/binary"
	"unicode/utf16"
)

// Builders of spec-shaped messages (MS-RDPECLIP, MS-RDPEFS) for tests
// and fuzz seeds.

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func le64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

func utf16z(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = le16(b, c)
	}
	return le16(b, 0)
}

func clipMsg(typ, flags uint16, body []byte) []byte {
	b := le16(nil, typ)
	b = le16(b, flags)
	b = le32(b, uint32(len(body)))
	return append(b, body...)
}

func clipCaps(long bool) []byte {
	flags := uint32(0)
	if long {
		flags = cbLongFormats
	}
	b := le16(nil, 1)
	b = le16(b, 0)
	b = le16(b, 1)  // general
	b = le16(b, 12) // length
	b = le32(b, 2)  // version
	b = le32(b, flags)
	return clipMsg(cbClipCaps, 0, b)
}

type format struct {
	id   uint32
	name string
}

func longFormatList(fs ...format) []byte {
	var b []byte
	for _, f := range fs {
		b = le32(b, f.id)
		b = append(b, utf16z(f.name)...)
	}
	return clipMsg(cbFormatList, 0, b)
}

func shortFormatList(ascii bool, fs ...format) []byte {
	var b []byte
	for _, f := range fs {
		b = le32(b, f.id)
		name := make([]byte, 32)
		if ascii {
			copy(name, f.name)
		} else {
			copy(name, utf16z(f.name))
		}
		b = append(b, name...)
	}
	flags := uint16(0)
	if ascii {
		flags = cbAsciiNames
	}
	return clipMsg(cbFormatList, flags, b)
}

func dataRequest(id uint32) []byte { return clipMsg(cbFormatDataRequest, 0, le32(nil, id)) }

func dataResponse(data []byte) []byte { return clipMsg(cbFormatDataResponse, cbResponseOK, data) }

func fileList(files ...clipFile) []byte {
	b := le32(nil, uint32(len(files)))
	for _, f := range files {
		fd := make([]byte, fileDescriptorSize)
		binary.LittleEndian.PutUint32(fd[fdSizeHigh:], uint32(f.size>>32))
		binary.LittleEndian.PutUint32(fd[fdSizeLow:], uint32(f.size))
		copy(fd[fdName:], utf16z(f.name))
		b = append(b, fd...)
	}
	return b
}

func contentsRequest(stream, index uint32, pos uint64, n uint32) []byte {
	b := le32(nil, stream)
	b = le32(b, index)
	b = le32(b, fileContentsRange)
	b = le64(b, pos)
	b = le32(b, n)
	return clipMsg(cbFileContentsReq, 0, b)
}

func contentsResponse(stream uint32, data []byte) []byte {
	return clipMsg(cbFileContentsResp, cbResponseOK, append(le32(nil, stream), data...))
}

func rdpdrHeader(pid uint16) []byte { return le16(le16(nil, ctypCore), pid) }

func driveAnnounce(id uint32, dos, name string) []byte {
	b := le32(rdpdrHeader(pakDeviceListAnnounce), 1)
	b = le32(b, dtypFilesystem)
	b = le32(b, id)
	d := make([]byte, 8)
	copy(d, dos)
	b = append(b, d...)
	data := utf16z(name)
	b = le32(b, uint32(len(data)))
	return append(b, data...)
}

func ioRequest(dev, file, cid, major, minor uint32, body []byte) []byte {
	b := le32(rdpdrHeader(pakIORequest), dev)
	b = le32(b, file)
	b = le32(b, cid)
	b = le32(b, major)
	b = le32(b, minor)
	return append(b, body...)
}

func createRequest(dev, cid uint32, path string, disp, options uint32) []byte {
	p := utf16z(path)
	b := le32(nil, 0x120089) // desired access
	b = le64(b, 0)
	b = le32(b, 0)
	b = le32(b, 7)
	b = le32(b, disp)
	b = le32(b, options)
	b = le32(b, uint32(len(p)))
	return ioRequest(dev, 0, cid, irpCreate, 0, append(b, p...))
}

func rwRequest(dev, file, cid, major, n uint32, data []byte) []byte {
	b := le32(nil, n)
	b = le64(b, 0)
	b = append(b, make([]byte, 20)...)
	return ioRequest(dev, file, cid, major, 0, append(b, data...))
}

func setInfoRequest(dev, file, cid, class uint32, buf []byte) []byte {
	b := le32(nil, class)
	b = le32(b, uint32(len(buf)))
	b = append(b, make([]byte, 24)...)
	return ioRequest(dev, file, cid, irpSetInfo, 0, append(b, buf...))
}

func renameInfo(newPath string) []byte {
	p := utf16z(newPath)
	b := []byte{0, 0}
	b = le32(b, uint32(len(p)))
	return append(b, p...)
}

func queryDirRequest(dev, file, cid uint32, initial bool) []byte {
	b := le32(nil, 3)
	if initial {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = le32(b, 0)
	b = append(b, make([]byte, 23)...)
	return ioRequest(dev, file, cid, irpDirControl, irpMnQueryDir, b)
}

func completion(dev, cid, status uint32, body []byte) []byte {
	b := le32(rdpdrHeader(pakIOCompletion), dev)
	b = le32(b, cid)
	b = le32(b, status)
	return append(b, body...)
}

func createCompletion(dev, cid, file uint32, info byte) []byte {
	return completion(dev, cid, 0, append(le32(nil, file), info))
}

func readCompletion(dev, cid uint32, data []byte) []byte {
	return completion(dev, cid, 0, append(le32(nil, uint32(len(data))), data...))
}

func writeCompletion(dev, cid, n uint32) []byte {
	return completion(dev, cid, 0, append(le32(nil, n), 0))
}

func closeRequest(dev, file, cid uint32) []byte {
	return ioRequest(dev, file, cid, irpClose, 0, make([]byte, 32))
}

// chunks splits a message into channel PDUs of at most size bytes of data.
func chunks(msg []byte, size int) [][]byte {
	var out [][]byte
	for off := 0; off < len(msg) || off == 0; off += size {
		end := min(off+size, len(msg))
		flags := uint32(0)
		if off == 0 {
			flags |= FlagFirst
		}
		if end == len(msg) {
			flags |= FlagLast
		}
		out = append(out, AppendChunk(nil, uint32(len(msg)), flags, msg[off:end]))
		if end == len(msg) {
			break
		}
	}
	return out
}
