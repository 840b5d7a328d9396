package vchan

import (
	"encoding/binary"
	"strings"
)

// Device redirection messages (MS-RDPEFS 2.2.1.1): every message starts
// with component u16 (RDPDR_CTYP_CORE 0x4472; printer messages, 0x5052,
// are not audited) and packetId u16.
const (
	ctypCore = 0x4472

	pakDeviceListAnnounce = 0x4441 // client: deviceCount u32, DEVICE_ANNOUNCE...
	pakDeviceListRemove   = 0x444D // client: deviceCount u32, deviceId u32...
	pakIORequest          = 0x4952 // server: DR_DEVICE_IOREQUEST
	pakIOCompletion       = 0x4943 // client: DR_DEVICE_IOCOMPLETION

	dtypFilesystem = 0x00000008

	irpCreate     = 0x00
	irpClose      = 0x02
	irpRead       = 0x03
	irpWrite      = 0x04
	irpSetInfo    = 0x06
	irpDirControl = 0x0C
	irpMnQueryDir = 0x01

	fileDirectoryFile = 0x00000001 // CreateOptions
	fileDeleteOnClose = 0x00001000 // CreateOptions
	fileCreated       = 0x02       // Information of a create's completion

	// CreateDisposition values.
	fileSupersede   = 0
	fileCreate      = 2
	fileOpenIf      = 3
	fileOverwrite   = 4
	fileOverwriteIf = 5

	fileRenameInfo      = 10 // FsInformationClass
	fileDispositionInfo = 13

	// maxTracked bounds the requests awaiting completion and the open
	// files the audit follows.
	maxTracked = 1 << 16
)

// irp is a request awaiting its completion.
type irp struct {
	major     uint32
	fileID    uint32
	path      string // create: the path; rename: the new path
	options   uint32 // create: CreateOptions
	disp      uint32 // create: CreateDisposition
	delete    bool   // set information: delete pending
	listing   bool   // directory control: an initial query
	renameSet bool
}

// openFile is a file the server opened on a redirected drive.
type openFile struct {
	path          string
	dir           bool
	created       bool
	read, written int64
	deleted       bool
	listed        bool
}

type devKey struct{ dev, id uint32 }

// drives tracks one connection's device redirection channel.
type drives struct {
	devices map[uint32]string // filesystem device id → its name
	pending map[devKey]*irp   // (device, completion id)
	open    map[devKey]*openFile
}

func newDrives() *drives {
	return &drives{devices: map[uint32]string{}, pending: map[devKey]*irp{}, open: map[devKey]*openFile{}}
}

func (d *drives) message(dir Dir, m Message, emit func(Event)) error {
	b := m.Data
	if len(b) < 4 {
		return malformed("device redirection message of %d bytes", len(b))
	}
	if binary.LittleEndian.Uint16(b) != ctypCore {
		return nil
	}
	switch pid := binary.LittleEndian.Uint16(b[2:]); {
	case pid == pakDeviceListAnnounce && dir == ToServer:
		if m.Truncated() {
			return malformed("device list of %d bytes", m.Total)
		}
		return d.announce(b[4:])
	case pid == pakDeviceListRemove && dir == ToServer:
		return d.remove(b[4:])
	case pid == pakIORequest && dir == ToClient:
		return d.request(b[4:], emit)
	case pid == pakIOCompletion && dir == ToServer:
		return d.completion(b[4:], m.Total-4, emit)
	}
	return nil
}

// announce reads DEVICE_ANNOUNCE entries: deviceType u32, deviceId u32,
// preferredDosName [8] (ASCII, NUL-padded), deviceDataLength u32,
// deviceData (for drives, the name, UTF-16 or ASCII, NUL-terminated).
func (d *drives) announce(b []byte) error {
	if len(b) < 4 {
		return malformed("device list of %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	for range n {
		if len(b) < 20 {
			return malformed("truncated device announce")
		}
		typ, id, l := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), int(binary.LittleEndian.Uint32(b[16:]))
		if l > len(b)-20 {
			return malformed("device data of %d bytes in %d", l, len(b)-20)
		}
		if typ == dtypFilesystem {
			if len(d.devices) >= maxTracked {
				return malformed("more than %d devices", maxTracked)
			}
			name := driveName(b[20 : 20+l])
			if name == "" {
				name = strings.TrimSuffix(cString(b[8:16]), ":")
			}
			d.devices[id] = name
		}
		b = b[20+l:]
	}
	return nil
}

// driveName reads a drive's device data: its name in UTF-16 (every
// other byte zero for ASCII names) or in ASCII/UTF-8.
func driveName(b []byte) string {
	if len(b) >= 2 && b[1] == 0 && b[0] != 0 {
		return utf16String(b)
	}
	return cString(b)
}

func (d *drives) remove(b []byte) error {
	if len(b) < 4 {
		return malformed("device list removal of %d bytes", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > (len(b)-4)/4 {
		return malformed("device list removal of %d devices in %d bytes", n, len(b))
	}
	for i := range n {
		delete(d.devices, binary.LittleEndian.Uint32(b[4+4*i:]))
	}
	return nil
}

// request reads DR_DEVICE_IOREQUEST: deviceId u32, fileId u32,
// completionId u32, majorFunction u32, minorFunction u32, then the
// function's fields.
func (d *drives) request(b []byte, emit func(Event)) error {
	if len(b) < 20 {
		return malformed("I/O request of %d bytes", len(b))
	}
	dev := binary.LittleEndian.Uint32(b)
	if _, ok := d.devices[dev]; !ok {
		return nil // not a drive
	}
	fileID, cid := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
	major, minor := binary.LittleEndian.Uint32(b[12:]), binary.LittleEndian.Uint32(b[16:])
	body := b[20:]
	r := &irp{major: major, fileID: fileID}
	switch major {
	case irpCreate:
		// desiredAccess u32, allocationSize u64, fileAttributes u32,
		// sharedAccess u32, createDisposition u32, createOptions u32,
		// pathLength u32, path (UTF-16).
		if len(body) < 32 {
			return malformed("create request of %d bytes", len(body))
		}
		l := int(binary.LittleEndian.Uint32(body[28:]))
		if l > len(body)-32 {
			return malformed("create request path of %d bytes in %d", l, len(body)-32)
		}
		r.disp, r.options = binary.LittleEndian.Uint32(body[20:]), binary.LittleEndian.Uint32(body[24:])
		r.path = utf16String(body[32 : 32+l])
	case irpClose:
		k := devKey{dev, fileID}
		if f := d.open[k]; f != nil {
			delete(d.open, k)
			d.report(dev, f, emit)
		}
		return nil
	case irpSetInfo:
		// fsInformationClass u32, length u32, padding [24], setBuffer.
		if len(body) < 32 {
			return malformed("set information request of %d bytes", len(body))
		}
		class, l := binary.LittleEndian.Uint32(body), int(binary.LittleEndian.Uint32(body[4:]))
		buf := body[32:]
		if l > len(buf) {
			return malformed("set information buffer of %d bytes in %d", l, len(buf))
		}
		buf = buf[:l]
		switch class {
		case fileDispositionInfo:
			r.delete = l == 0 || buf[0] != 0
		case fileRenameInfo:
			// replaceIfExists u8, rootDirectory u8, fileNameLength u32, fileName.
			if l < 6 {
				return malformed("rename information of %d bytes", l)
			}
			n := int(binary.LittleEndian.Uint32(buf[2:]))
			if n > l-6 {
				return malformed("rename name of %d bytes in %d", n, l-6)
			}
			r.path, r.renameSet = utf16String(buf[6:6+n]), true
		default:
			return nil
		}
	case irpDirControl:
		// fsInformationClass u32, initialQuery u8, pathLength u32, ...
		if minor != irpMnQueryDir || len(body) < 5 || body[4] == 0 {
			return nil
		}
		r.listing = true
	case irpRead, irpWrite:
	default:
		return nil
	}
	if len(d.pending) >= maxTracked {
		return malformed("more than %d I/O requests awaiting completion", maxTracked)
	}
	d.pending[devKey{dev, cid}] = r
	return nil
}

// completion reads DR_DEVICE_IOCOMPLETION: deviceId u32, completionId
// u32, ioStatus u32, then the function's fields (create: fileId u32,
// information u8; read: length u32, data; write: length u32).
func (d *drives) completion(b []byte, total int, emit func(Event)) error {
	if len(b) < 12 {
		return malformed("I/O completion of %d bytes", len(b))
	}
	dev, cid, status := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
	k := devKey{dev, cid}
	r := d.pending[k]
	if r == nil {
		return nil
	}
	delete(d.pending, k)
	if status != 0 { // an NTSTATUS error: nothing happened
		return nil
	}
	body := b[12:]
	f := d.open[devKey{dev, r.fileID}]
	switch r.major {
	case irpCreate:
		if len(body) < 4 {
			return malformed("create completion of %d bytes", len(body))
		}
		if len(d.open) >= maxTracked {
			return malformed("more than %d open files", maxTracked)
		}
		nf := &openFile{path: r.path, dir: r.options&fileDirectoryFile != 0, deleted: r.options&fileDeleteOnClose != 0}
		// What the disposition asked for says whether the file is new
		// or its content replaced (clients do not all report it in
		// information); FILE_OPEN_IF creates only when information
		// says so.
		switch r.disp {
		case fileCreate, fileSupersede, fileOverwrite, fileOverwriteIf:
			nf.created = true
		case fileOpenIf:
			nf.created = len(body) >= 5 && body[4] == fileCreated
		}
		d.open[devKey{dev, binary.LittleEndian.Uint32(body)}] = nf
	case irpRead, irpWrite:
		if len(body) < 4 || f == nil {
			return nil
		}
		n := int64(binary.LittleEndian.Uint32(body))
		if r.major == irpRead {
			n = min(n, int64(total-16)) // the data that came
			f.read += max(n, 0)
		} else {
			f.written += n
		}
	case irpSetInfo:
		if f == nil {
			return nil
		}
		if r.renameSet {
			emit(Event{Channel: Drives, Dir: ToClient, Op: "rename", Path: d.path(dev, f.path), Path2: d.path(dev, r.path)})
			f.path = r.path
		} else {
			f.deleted = r.delete
		}
	case irpDirControl:
		if f != nil && !f.listed {
			f.listed = true
			emit(Event{Channel: Drives, Dir: ToServer, Op: "list", Path: d.path(dev, f.path)})
		}
	}
	return nil
}

// path names a file on a redirected drive as Windows shows it
// (servers other than Windows may separate with slashes).
func (d *drives) path(dev uint32, p string) string {
	p = strings.ReplaceAll(p, "/", `\`)
	if p != "" && !strings.HasPrefix(p, `\`) {
		p = `\` + p
	}
	return `\\tsclient\` + d.devices[dev] + p
}

// report emits what happened to a file by the time it was closed.
func (d *drives) report(dev uint32, f *openFile, emit func(Event)) {
	p := d.path(dev, f.path)
	if f.created && f.dir {
		emit(Event{Channel: Drives, Dir: ToClient, Op: "mkdir", Path: p})
	}
	if f.read > 0 {
		emit(Event{Channel: Drives, Dir: ToServer, Op: "upload", Path: p, Bytes: f.read})
	}
	if f.written > 0 || f.created && !f.dir {
		emit(Event{Channel: Drives, Dir: ToClient, Op: "download", Path: p, Bytes: f.written})
	}
	if f.deleted {
		op := "delete"
		if f.dir {
			op = "rmdir"
		}
		emit(Event{Channel: Drives, Dir: ToClient, Op: op, Path: p})
	}
}

// flush reports the files still open.
func (d *drives) flush(emit func(Event)) {
	for k, f := range d.open {
		delete(d.open, k)
		d.report(k.dev, f, emit)
	}
}
