package vchan

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	clipID  = 1004
	driveID = 1005
)

// msg is one message going one way.
type msg struct {
	dir  Dir
	data []byte
}

// run feeds msgs (split in chunks of size) to a fresh audit of both
// channels and returns the events and the first error.
func run(t *testing.T, size int, cfg Config, msgs []msg) ([]Event, error) {
	t.Helper()
	var evs []Event
	a := NewAudit(cfg, func(e Event) { evs = append(evs, e) })
	if !a.Join(clipID, "CLIPRDR") || !a.Join(driveID, "rdpdr") || a.Join(1006, "rdpsnd") {
		t.Fatal("Join audits cliprdr and rdpdr only")
	}
	var first error
	for _, m := range msgs {
		id := uint16(clipID)
		if bytes.HasPrefix(m.data, rdpdrHeader(0)[:2]) {
			id = driveID
		}
		for _, c := range chunks(m.data, size) {
			if err := a.Feed(id, m.dir, c); err != nil && first == nil {
				first = err
			}
		}
	}
	a.Flush()
	return evs, first
}

func TestReassembler(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		in      [][]byte
		want    []byte
		total   int
		wantErr string
	}{
		{"one chunk", 100, chunks([]byte("hello"), 1600), []byte("hello"), 5, ""},
		{"three chunks", 100, chunks([]byte("hello world"), 4), []byte("hello world"), 11, ""},
		{"kept prefix of a long message", 4, chunks([]byte("hello world"), 3), []byte("hell"), 11, ""},
		{"chunk without its first", 100, [][]byte{AppendChunk(nil, 5, FlagLast, []byte("hello"))}, nil, 0, "without its first"},
		{"first inside a message", 100, [][]byte{AppendChunk(nil, 10, FlagFirst, []byte("hello")), AppendChunk(nil, 10, FlagFirst, []byte("hello"))}, nil, 0, "first chunk inside"},
		{"more data than declared", 100, [][]byte{AppendChunk(nil, 3, FlagFirst|FlagLast, []byte("hello"))}, nil, 0, "chunks of 5 bytes for a message of 3"},
		{"less data than declared", 100, [][]byte{AppendChunk(nil, 9, FlagFirst|FlagLast, []byte("hello"))}, nil, 0, "ends after 5"},
		{"compressed", 100, [][]byte{AppendChunk(nil, 5, FlagFirst|FlagLast|FlagCompressed, []byte("hello"))}, nil, 0, "compressed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Reassembler{Max: tc.max}
			var got Message
			var done bool
			var err error
			for _, b := range tc.in {
				c, perr := ParseChunk(b)
				if perr != nil {
					t.Fatal(perr)
				}
				if got, done, err = r.Add(c); err != nil {
					break
				}
			}
			if tc.wantErr != "" {
				if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !done || !bytes.Equal(got.Data, tc.want) || got.Total != tc.total {
				t.Fatalf("got %q/%d done %v err %v, want %q/%d", got.Data, got.Total, done, err, tc.want, tc.total)
			}
			if got.Truncated() != (len(tc.want) < tc.total) {
				t.Fatalf("Truncated %v", got.Truncated())
			}
		})
	}
	if _, err := ParseChunk([]byte{1, 2, 3}); err == nil {
		t.Fatal("a 3-byte channel PDU parsed")
	}
}

func TestClipboard(t *testing.T) {
	fgd := format{49350, "FileGroupDescriptorW"}
	text := "héllo from the desktop ✓"
	tests := []struct {
		name  string
		size  int
		cfg   Config
		msgs  []msg
		want  []Event
		error string
	}{
		{
			name: "long names: desktop text to the person",
			size: 1600,
			msgs: []msg{
				{ToClient, clipCaps(true)},
				{ToServer, clipCaps(true)},
				{ToClient, longFormatList(format{13, ""}, format{49161, "HTML Format"})},
				{ToServer, dataRequest(13)},
				{ToClient, dataResponse(utf16z(text))},
			},
			want: []Event{{Channel: Clipboard, Dir: ToClient, Op: "download", Path: "CF_UNICODETEXT", Bytes: int64(len(utf16z(text))), Text: []byte(text), Clip: true}},
		},
		{
			name: "short ASCII names, chunked: person's registered text format to the desktop",
			size: 7,
			msgs: []msg{
				{ToServer, shortFormatList(true, format{49200, "UTF8_STRING"}, format{1, ""})},
				{ToClient, dataRequest(49200)},
				{ToServer, dataResponse([]byte("secret token\x00"))},
				{ToClient, dataRequest(1)},
				{ToServer, dataResponse([]byte("caf\xe9\x00"))},
			},
			want: []Event{
				{Channel: Clipboard, Dir: ToServer, Op: "upload", Path: "UTF8_STRING", Bytes: 13, Text: []byte("secret token"), Clip: true},
				{Channel: Clipboard, Dir: ToServer, Op: "upload", Path: "CF_TEXT", Bytes: 5, Text: []byte("café"), Clip: true},
			},
		},
		{
			name: "short UTF-16 names when only one side has long names; text capped",
			size: 1600,
			cfg:  Config{TextMax: 5},
			msgs: []msg{
				{ToClient, clipCaps(true)},
				{ToServer, clipCaps(false)},
				{ToServer, shortFormatList(false, format{13, "CF_UNICODETEXT"})},
				{ToClient, dataRequest(13)},
				{ToServer, dataResponse(utf16z("ünïcode text"))},
			},
			want: []Event{{Channel: Clipboard, Dir: ToServer, Op: "upload", Path: "CF_UNICODETEXT", Bytes: 26, Text: []byte("ünï"), Clip: true}},
		},
		{
			name: "a file list, then the file's contents in two ranges",
			size: 1600,
			msgs: []msg{
				{ToClient, clipCaps(true)},
				{ToServer, clipCaps(true)},
				{ToServer, longFormatList(fgd)},
				{ToClient, dataRequest(fgd.id)},
				{ToServer, dataResponse(fileList(clipFile{name: "report.pdf", size: 10}, clipFile{name: "b.txt", size: 3}))},
				{ToClient, contentsRequest(7, 0, 0, 6)},
				{ToServer, contentsResponse(7, []byte("012345"))},
				{ToClient, contentsRequest(8, 0, 6, 6)},
				{ToServer, contentsResponse(8, []byte("6789"))},
			},
			want: []Event{
				{Channel: Clipboard, Dir: ToServer, Op: "upload", Path: "FileGroupDescriptorW", Bytes: 4 + 2*fileDescriptorSize, Text: []byte("report.pdf\nb.txt"), Clip: true},
				{Channel: Clipboard, Dir: ToServer, Op: "upload", Path: "report.pdf", Bytes: 10},
			},
		},
		{
			name: "a file partly copied is reported at the end",
			size: 1600,
			msgs: []msg{
				{ToClient, shortFormatList(true, format{49300, "FileGroupDescriptorW"})},
				{ToServer, dataRequest(49300)},
				{ToClient, dataResponse(fileList(clipFile{name: "big.iso", size: 1 << 33}))},
				{ToServer, contentsRequest(1, 0, 0, 5)},
				{ToClient, contentsResponse(1, []byte("abcde"))},
			},
			want: []Event{
				{Channel: Clipboard, Dir: ToClient, Op: "download", Path: "FileGroupDescriptorW", Bytes: 4 + fileDescriptorSize, Text: []byte("big.iso"), Clip: true},
				{Channel: Clipboard, Dir: ToClient, Op: "download", Path: "big.iso", Bytes: 5},
			},
		},
		{
			name: "a failed response reports nothing",
			size: 1600,
			msgs: []msg{
				{ToServer, dataRequest(13)},
				{ToClient, clipMsg(cbFormatDataResponse, 2, nil)},
			},
		},
		{
			name:  "a response without a request stops the audit",
			size:  1600,
			msgs:  []msg{{ToClient, dataResponse([]byte("x"))}, {ToServer, dataRequest(1)}, {ToClient, dataResponse([]byte("y\x00"))}},
			error: "without a request",
		},
		{
			name:  "an unknown message type",
			size:  1600,
			msgs:  []msg{{ToClient, clipMsg(99, 0, nil)}},
			error: "type 99",
		},
		{
			name:  "a long format name without its NUL",
			size:  1600,
			msgs:  []msg{{ToClient, clipCaps(true)}, {ToServer, clipCaps(true)}, {ToClient, clipMsg(cbFormatList, 0, []byte{13, 0, 0, 0, 'a', 0})}},
			error: "terminating NUL",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := run(t, tc.size, tc.cfg, tc.msgs)
			if tc.error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.error) || !strings.Contains(err.Error(), "audit of channel cliprdr stopped") {
					t.Fatalf("error %v, want %q", err, tc.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(evs, tc.want) {
				t.Fatalf("events\n%+v\nwant\n%+v", evs, tc.want)
			}
		})
	}
}

func TestDrives(t *testing.T) {
	const dev = 3
	tests := []struct {
		name  string
		msgs  []msg
		want  []Event
		error string
	}{
		{
			name: "the desktop reads a file of the person's drive",
			msgs: []msg{
				{ToServer, driveAnnounce(dev, "SHARE:", "share")},
				{ToClient, createRequest(dev, 1, `\docs\a.txt`, 1, 0)},
				{ToServer, createCompletion(dev, 1, 42, 0)}, // FreeRDP answers FILE_SUPERSEDED to FILE_OPEN
				{ToClient, rwRequest(dev, 42, 2, irpRead, 4096, nil)},
				{ToServer, readCompletion(dev, 2, bytes.Repeat([]byte("x"), 3000))},
				{ToClient, rwRequest(dev, 42, 3, irpRead, 4096, nil)},
				{ToServer, readCompletion(dev, 3, nil)},
				{ToClient, closeRequest(dev, 42, 4)},
			},
			want: []Event{{Channel: Drives, Dir: ToServer, Op: "upload", Path: `\\tsclient\share\docs\a.txt`, Bytes: 3000}},
		},
		{
			name: "the desktop writes a new file, makes a directory, renames and deletes",
			msgs: []msg{
				{ToServer, driveAnnounce(dev, "HOME", "")},
				{ToClient, createRequest(dev, 1, `\out.bin`, fileCreate, 0)},
				{ToServer, createCompletion(dev, 1, 7, fileCreated)},
				{ToClient, rwRequest(dev, 7, 2, irpWrite, 5, []byte("abcde"))},
				{ToServer, writeCompletion(dev, 2, 5)},
				{ToClient, setInfoRequest(dev, 7, 3, fileRenameInfo, renameInfo(`\final.bin`))},
				{ToServer, completion(dev, 3, 0, le32(nil, 0))},
				{ToClient, closeRequest(dev, 7, 4)},
				{ToClient, createRequest(dev, 5, `\newdir`, fileCreate, fileDirectoryFile)},
				{ToServer, createCompletion(dev, 5, 8, fileCreated)},
				{ToClient, closeRequest(dev, 8, 6)},
				{ToClient, createRequest(dev, 7, `/sub/old.txt`, 1, 0)}, // xrdp separates with slashes
				{ToServer, createCompletion(dev, 7, 9, 1)},
				{ToClient, setInfoRequest(dev, 9, 8, fileDispositionInfo, []byte{1})},
				{ToServer, completion(dev, 8, 0, le32(nil, 0))},
				{ToClient, closeRequest(dev, 9, 9)},
			},
			want: []Event{
				{Channel: Drives, Dir: ToClient, Op: "rename", Path: `\\tsclient\HOME\out.bin`, Path2: `\\tsclient\HOME\final.bin`},
				{Channel: Drives, Dir: ToClient, Op: "download", Path: `\\tsclient\HOME\final.bin`, Bytes: 5},
				{Channel: Drives, Dir: ToClient, Op: "mkdir", Path: `\\tsclient\HOME\newdir`},
				{Channel: Drives, Dir: ToClient, Op: "delete", Path: `\\tsclient\HOME\sub\old.txt`},
			},
		},
		{
			name: "a directory listing once per handle; failed and foreign requests report nothing",
			msgs: []msg{
				{ToServer, driveAnnounce(dev, "D", "d")},
				{ToClient, createRequest(dev, 1, `\`, 1, fileDirectoryFile)},
				{ToServer, createCompletion(dev, 1, 2, 1)},
				{ToClient, queryDirRequest(dev, 2, 2, true)},
				{ToServer, completion(dev, 2, 0, nil)},
				{ToClient, queryDirRequest(dev, 2, 3, false)},
				{ToServer, completion(dev, 3, 0, nil)},
				{ToClient, createRequest(dev, 4, `\missing`, 1, 0)},
				{ToServer, completion(dev, 4, 0xC0000034, nil)}, // STATUS_OBJECT_NAME_NOT_FOUND
				{ToClient, createRequest(99, 5, `\printer`, 1, 0)},
				{ToServer, createCompletion(99, 5, 3, 1)},
				{ToClient, closeRequest(dev, 2, 6)},
			},
			want: []Event{{Channel: Drives, Dir: ToServer, Op: "list", Path: `\\tsclient\d\`}},
		},
		{
			name: "files still open at the end are reported",
			msgs: []msg{
				{ToServer, driveAnnounce(dev, "S", "s")},
				{ToClient, createRequest(dev, 1, `\log`, fileOpenIf, 0)},
				{ToServer, createCompletion(dev, 1, 2, 1)}, // opened, not created
				{ToClient, rwRequest(dev, 2, 2, irpWrite, 3, []byte("abc"))},
				{ToServer, writeCompletion(dev, 2, 3)},
			},
			want: []Event{{Channel: Drives, Dir: ToClient, Op: "download", Path: `\\tsclient\s\log`, Bytes: 3}},
		},
		{
			name:  "a create request whose path overruns",
			msgs:  []msg{{ToServer, driveAnnounce(dev, "S", "s")}, {ToClient, ioRequest(dev, 0, 1, irpCreate, 0, append(make([]byte, 28), 0xff, 0, 0, 0))}},
			error: "path of 255 bytes",
		},
		{
			name:  "a device list overrunning its message",
			msgs:  []msg{{ToServer, le32(rdpdrHeader(pakDeviceListAnnounce), 5)}},
			error: "truncated device announce",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := run(t, 1600, Config{}, tc.msgs)
			if tc.error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.error) || !strings.Contains(err.Error(), "audit of channel rdpdr stopped") {
					t.Fatalf("error %v, want %q", err, tc.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(evs, tc.want) {
				t.Fatalf("events\n%+v\nwant\n%+v", evs, tc.want)
			}
		})
	}
}

func TestAuditStopsOnceAndIgnoresOtherChannels(t *testing.T) {
	var evs []Event
	a := NewAudit(Config{}, func(e Event) { evs = append(evs, e) })
	a.Join(clipID, Clipboard)
	if err := a.Feed(1010, ToServer, []byte{1}); err != nil {
		t.Fatalf("a channel not audited: %v", err)
	}
	if err := a.Feed(clipID, ToServer, []byte{1, 2}); err == nil {
		t.Fatal("a 2-byte channel PDU was accepted")
	}
	for _, c := range chunks(dataRequest(13), 1600) {
		if err := a.Feed(clipID, ToServer, c); err != nil {
			t.Fatalf("the audit reported a second error: %v", err)
		}
	}
	if len(evs) != 0 {
		t.Fatalf("events after the audit stopped: %+v", evs)
	}
}
